"""`inbedder head fit`, `inbedder encode --model HEAD`, `inbedder evaluate --heads` and hub export of a head,
on the real default model and the shared data (small samples)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sentence_transformers import SentenceTransformer

import inbedder_st
from conftest import shared_file
from inbedder_st import evaluation
from inbedder_st.cli import main
from inbedder_st.heads import read_head_info

PROMPT = "How does the writer feel?"


@pytest.fixture(autouse=True)
def warm_teacher(monkeypatch, default_model):
    monkeypatch.setattr(inbedder_st, "load_model", lambda *args, **kwargs: default_model)  # reuse the warm model


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    lines = shared_file("emotion/train.jsonl").read_text(encoding="utf-8").splitlines()[:400]
    path = tmp_path_factory.mktemp("corpus") / "train.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def head_dir(corpus, tmp_path_factory, default_model):
    import inbedder_st as package

    saved, package.load_model = package.load_model, lambda *args, **kwargs: default_model
    try:
        folder = tmp_path_factory.mktemp("heads") / "feel"
        assert main(["head", "fit", "--prompt", PROMPT, "--input", str(corpus), "--sample", "60", "--output", str(folder)]) == 0
    finally:
        package.load_model = saved
    return folder


def test_head_fit_reports_its_stages_and_saves_a_loadable_head(head_dir):
    info = read_head_info(head_dir)
    assert info.instruction == PROMPT and info.sample_size == 60
    assert SentenceTransformer(str(head_dir)).get_embedding_dimension() == 576


def test_head_fit_prints_progress(corpus, tmp_path, capsys):
    folder = tmp_path / "again"
    assert main(["head", "fit", "--prompt", PROMPT, "--input", str(corpus), "--sample", "55", "--output", str(folder)]) == 0
    err = capsys.readouterr().err
    for stage in ("sample: 55 distinct texts of 400", "teacher: embedding of 55 texts", "base: sentence-transformers/all-MiniLM-L6-v2", "fit: linear head 384 -> 576", "saved to"):
        assert stage in err, err
    assert main(["head", "fit", "--prompt", PROMPT, "--input", str(corpus), "--output", str(folder)]) == 2
    assert "exists and is not empty" in capsys.readouterr().err


def test_encode_with_a_head_folder_embeds_bare_texts(head_dir, tmp_path, capsys):
    texts = ["i feel wonderful today", "i am so scared of the dark"]
    source = tmp_path / "texts.txt"
    source.write_text("\n".join(texts) + "\n", encoding="utf-8")
    out = tmp_path / "emb.npy"
    assert main(["encode", "--model", str(head_dir), "--input", str(source), "--output", str(out)]) == 0
    np.testing.assert_allclose(np.load(out), SentenceTransformer(str(head_dir)).encode(texts), atol=1e-5)
    assert main(["encode", "--model", str(head_dir), "--prompt", PROMPT, "--input", str(source), "--output", str(out)]) == 0
    assert main(["encode", "--model", str(head_dir), "--prompt", "What is it about?", "--input", str(source)]) == 2
    assert f"is the instruction head for {PROMPT!r}; it cannot embed under 'What is it about?'" in capsys.readouterr().err


def test_evaluate_with_heads_files_results_as_a_minilm_experiment(head_dir, tmp_path):
    run = evaluation.run("minilm", ["EmotionClustering"], tmp_path / "eval", heads=head_dir.parent, progress=False)
    assert "sentence-transformers/all-MiniLM-L6-v2 (heads=heads" in run.summary_markdown
    assert "EmotionClustering" in run.summary_markdown


def test_evaluate_with_heads_fails_clearly_on_an_instruction_without_a_head(head_dir, tmp_path):
    with pytest.raises(KeyError, match=r"No head for the instruction\(s\) 'What does the customer need\?' \(asked by Banking77IntentClustering/default\).*How does the writer feel"):
        evaluation.run("minilm", ["Banking77IntentClustering", "EmotionClustering"], tmp_path / "eval",
                       heads=head_dir.parent, progress=False)  # fmt: skip
    assert not (tmp_path / "eval").exists()  # refused before any task ran
    encoder = evaluation.resolve_model("minilm", heads=head_dir.parent)
    with pytest.raises(KeyError, match=r"No head for the instruction 'What is it\?'"):
        encoder.head_for("What is it?")
    with pytest.raises(ValueError, match="was fitted on 'sentence-transformers/all-MiniLM-L6-v2', not on the base model"):
        evaluation.resolve_model(str(head_dir), heads=head_dir.parent)
    with pytest.raises(FileNotFoundError, match="holds no instruction head"):
        evaluation.resolve_model("minilm", heads=tmp_path)


def test_hub_export_writes_a_head_with_a_card_for_its_repo(head_dir, tmp_path):
    from inbedder_st import hub
    from inbedder_st.heads import load_head
    from inbedder_st.hub.pushing import check_card_names, check_exported_folder

    exported = hub.export(load_head(head_dir), tmp_path / "out", model_id="me/feel-head", license="apache-2.0")
    assert "inbedder_head.json" in exported.files and "3_Dense/model.safetensors" in exported.files
    assert exported.card.data.license == "apache-2.0"
    check_exported_folder(exported.folder)  # what push uploads
    check_card_names(exported.folder, "me/feel-head")
    np.testing.assert_allclose(
        SentenceTransformer(str(exported.folder)).encode(["fine"]), SentenceTransformer(str(head_dir)).encode(["fine"]), atol=1e-6
    )
    with pytest.raises(ValueError, match=r"\['dtype'\] do not apply to an instruction head"):
        hub.export(load_head(head_dir), tmp_path / "other", dtype="bfloat16")


def test_cli_export_and_push_dry_run_take_a_head_folder(head_dir, tmp_path, capsys):
    assert main(["export", str(head_dir), str(tmp_path / "exp"), "--model-id", "me/feel-head"]) == 0
    assert "instruction-head" in capsys.readouterr().out
    assert main(["push", str(tmp_path / "exp"), "me/feel-head", "--dry-run"]) == 0
    assert "inbedder_head.json" in capsys.readouterr().out
    card = (tmp_path / "exp" / "README.md").read_text(encoding="utf-8")
    assert 'SentenceTransformer("me/feel-head")' in card and json.loads((tmp_path / "exp" / "inbedder_head.json").read_text())["instruction"] == PROMPT


def test_head_identity_completes_a_head_set(head_dir, tmp_path, capsys):
    import shutil

    heads_dir = tmp_path / "set"
    shutil.copytree(head_dir, heads_dir / "feel")
    assert main(["head", "identity", "--prompt", "What does the customer need?", "--output", str(heads_dir / "need")]) == 0
    assert "answers 'What does the customer need?' as it is" in capsys.readouterr().err
    encoder = evaluation.resolve_model("minilm", heads=heads_dir)
    assert set(encoder.heads) == {PROMPT, "What does the customer need?"}
    assert main(["head", "identity", "--prompt", "x", "--output", str(heads_dir / "need")]) == 2


class FakeHub:
    """Stands in for huggingface_hub.HfApi (push takes api=): records the upload, reaches no network."""

    def __init__(self):
        self.files: list[str] = []
        self.card = ""

    def whoami(self, token=None):
        return {"name": "me", "orgs": []}

    def create_repo(self, **kwargs):
        return None

    def upload_folder(self, *, folder_path, **kwargs):
        from pathlib import Path

        folder = Path(folder_path)
        self.files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
        self.card = (folder / "README.md").read_text(encoding="utf-8")

        class Info:
            commit_url = "https://huggingface.co/me/feel-head/commit/1"

        return Info()


def test_hub_push_uploads_a_head_exported_for_the_repo(head_dir):
    from inbedder_st import hub
    from inbedder_st.heads import load_head

    api = FakeHub()
    pushed = hub.push(load_head(head_dir), "me/feel-head", token="hf_test", api=api)
    assert pushed.url.endswith("/commit/1") and "inbedder_head.json" in api.files
    assert 'SentenceTransformer("me/feel-head")' in api.card and "instruction-head" in api.card
