"""push() and the export/push commands, with huggingface_hub's HfApi network calls captured (no network).

A tiny random backbone stands in for a model here: these tests check the mechanics (calls, files, card,
errors, the token staying secret); test_hub_export.py checks export on the real default.
"""

import logging
import shutil
from pathlib import Path

import httpx2
import numpy as np
import pytest
import torch
from huggingface_hub import HfApi, ModelCard, constants
from huggingface_hub.errors import HfHubHTTPError
from safetensors import safe_open
from sentence_transformers import SentenceTransformer

import model_cards
from inbedder_st import default, hub
from inbedder_st.cli import main
from inbedder_st.hub import PushError
from inbedder_st.model import InBedderModel
from inbedder_st.module import InBedder

SECRET = "hf_FAKEtokenThatMustNeverBePrinted0123456789"
USER = "alice"
ORG = "my-org"
RESULTS = model_cards.default_dir() / "dev_results" / "default"


def tiny_model() -> InBedderModel:
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(default.ensure_converted())
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=2, num_key_value_heads=2, tie_word_embeddings=True,
    )  # fmt: skip
    module = InBedder(LlamaForCausalLM(config).eval(), tokenizer, backbone="tiny-random-llama")
    return InBedderModel(modules=[module], prompts={"emotion": "How does the customer feel?"}, device="cpu")


@pytest.fixture(scope="module")
def tiny():
    return tiny_model()


@pytest.fixture
def no_saved_token(monkeypatch, tmp_path):
    """No HF_TOKEN and no token file: get_token() finds nothing (HF_HOME's token path is read at import)."""
    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_OIDC_RESOURCE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "hf_home" / "token"))


def http_error(status: int, message: str) -> HfHubHTTPError:
    request = httpx2.Request("POST", "https://huggingface.co/api/repos/create")
    return HfHubHTTPError(f"{status} Client Error: {message}", response=httpx2.Response(status, request=request))


class CapturedHub:
    """Records HfApi calls; what upload_folder saw is kept because the pushed folder may be temporary."""

    def __init__(self, existing: set[str] = frozenset(), whoami_error: HfHubHTTPError | None = None):
        self.calls: list[tuple[str, dict]] = []
        self.existing = set(existing)
        self.whoami_error = whoami_error
        self.uploaded_files: list[str] = []
        self.uploaded_card: ModelCard | None = None
        self.uploaded_copy: Path | None = None  # set by keep_uploads_in

    def install(self, monkeypatch) -> "CapturedHub":
        for name in ("whoami", "create_repo", "create_branch", "upload_folder"):
            recorder = getattr(self, "_" + name)
            # A plain function on the class, so HfApi instances call it with themselves as `api`.
            monkeypatch.setattr(
                HfApi, name, lambda api, *args, _record=recorder, **kwargs: _record(api, *args, **kwargs)
            )
        return self

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]

    def _whoami(self, api, token=None, **kwargs):
        self.calls.append(("whoami", {"token": token}))
        if self.whoami_error:
            raise self.whoami_error
        return {"name": USER, "orgs": [{"name": ORG}]}

    def _create_repo(self, api, repo_id, **kwargs):
        self.calls.append(("create_repo", {"repo_id": repo_id, **kwargs}))
        if repo_id in self.existing and not kwargs.get("exist_ok"):
            raise http_error(409, "Conflict: You already created this model repo")
        return f"https://huggingface.co/{repo_id}"

    def _create_branch(self, api, repo_id, **kwargs):
        self.calls.append(("create_branch", {"repo_id": repo_id, **kwargs}))

    def _upload_folder(self, api, repo_id, folder_path, **kwargs):
        self.calls.append(("upload_folder", {"repo_id": repo_id, "folder_path": folder_path, **kwargs}))
        folder = Path(folder_path)
        self.uploaded_files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
        self.uploaded_card = ModelCard.load(folder / "README.md")
        if self.uploaded_copy is not None:
            shutil.copytree(folder, self.uploaded_copy)
        commit = f"https://huggingface.co/{repo_id}/commit/abc123"

        class Info:
            commit_url = commit
            pr_url = f"https://huggingface.co/{repo_id}/discussions/1" if kwargs.get("create_pr") else None

        return Info()


def test_push_creates_the_repo_and_uploads_the_exported_folder_with_its_card(tiny, monkeypatch, caplog):
    hub_calls = CapturedHub().install(monkeypatch)
    caplog.set_level(logging.DEBUG)
    pushed = hub.push(tiny, f"{ORG}/tiny-inbedder", token=SECRET, license="mit", results=RESULTS)
    assert hub_calls.names() == ["whoami", "create_repo", "upload_folder"]
    create, upload = hub_calls.calls[1][1], hub_calls.calls[2][1]
    assert create["repo_id"] == upload["repo_id"] == pushed.repo_id == f"{ORG}/tiny-inbedder"
    assert create["private"] is False and create["exist_ok"] is False
    assert upload["commit_message"] == hub.pushing.DEFAULT_COMMIT_MESSAGE and upload["create_pr"] is False
    assert {"modules.json", "config_sentence_transformers.json", "inbedder_config.json", "model.safetensors",
            "tokenizer.json", "README.md"} <= set(hub_calls.uploaded_files) == set(pushed.files)  # fmt: skip
    card = hub_calls.uploaded_card
    assert card.data.license == "mit" and "inbedder" in card.data.tags
    assert len(card.data.eval_results) == 10  # the model-index from the results given
    assert f'SentenceTransformer("{ORG}/tiny-inbedder", trust_remote_code=True)' in card.text
    assert pushed.url.endswith("/commit/abc123") and pushed.folder is None


def as_hub_cache(folder: Path, repo_id: str, cache: Path) -> Path:
    """Lay ``folder`` out as huggingface_hub's cache holds a downloaded repo (what a hub user would get)."""
    commit = "0" * 40
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    shutil.copytree(folder, repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    return cache


def test_what_was_pushed_loads_by_repo_id_with_identical_embeddings(tiny, monkeypatch, tmp_path):
    hub_calls = CapturedHub().install(monkeypatch)
    hub_calls.uploaded_copy = tmp_path / "uploaded"
    hub.push(tiny, f"{ORG}/tiny-inbedder", token=SECRET, license="mit")
    cache = as_hub_cache(hub_calls.uploaded_copy, f"{ORG}/tiny-inbedder", tmp_path / "hub")
    # The card's usage line, through the hub code path (snapshot lookup), no network.
    loaded = SentenceTransformer(
        f"{ORG}/tiny-inbedder", cache_folder=str(cache), local_files_only=True, trust_remote_code=True
    )
    texts = ["I love cat!", "Where is my refund?"]
    np.testing.assert_array_equal(
        loaded.encode(texts, prompt_name="emotion"), tiny.encode(texts, prompt_name="emotion")
    )


def test_revision_and_pull_request_are_passed_on(tiny, monkeypatch):
    hub_calls = CapturedHub(existing={f"{USER}/tiny"}).install(monkeypatch)
    pushed = hub.push(tiny, f"{USER}/tiny", token=SECRET, revision="v2", create_pr=True, commit_message="v2 weights")
    assert hub_calls.names() == ["whoami", "create_repo", "create_branch", "upload_folder"]
    assert hub_calls.calls[1][1]["exist_ok"] is True  # a PR goes to an existing repo
    assert hub_calls.calls[2][1]["branch"] == "v2"
    upload = hub_calls.calls[3][1]
    assert (upload["revision"], upload["create_pr"], upload["commit_message"]) == ("v2", True, "v2 weights")
    assert pushed.url.endswith("/discussions/1")


def test_a_missing_token_is_a_clear_error_before_any_call(tiny, monkeypatch, no_saved_token):
    hub_calls = CapturedHub().install(monkeypatch)
    with pytest.raises(PushError, match="No Hugging Face token.*HF_TOKEN.*hf auth login"):
        hub.push(tiny, f"{USER}/tiny")
    assert hub_calls.calls == []


def test_an_unknown_organisation_is_refused_before_creating_anything(tiny, monkeypatch):
    hub_calls = CapturedHub().install(monkeypatch)
    with pytest.raises(PushError, match=r"Unknown organisation 'other-org'.*\['alice', 'my-org'\]"):
        hub.push(tiny, "other-org/tiny", token=SECRET)
    assert hub_calls.names() == ["whoami"]


def test_an_existing_repo_needs_exist_ok(tiny, monkeypatch):
    hub_calls = CapturedHub(existing={f"{ORG}/taken"}).install(monkeypatch)
    with pytest.raises(PushError, match=r"'my-org/taken' already exists; pass exist_ok=True"):
        hub.push(tiny, f"{ORG}/taken", token=SECRET)
    assert "upload_folder" not in hub_calls.names()
    hub.push(tiny, f"{ORG}/taken", token=SECRET, exist_ok=True)
    assert hub_calls.names()[-1] == "upload_folder"


def test_a_rejected_token_and_a_bad_repo_id_are_clear_errors(tiny, monkeypatch):
    CapturedHub(whoami_error=http_error(401, "Unauthorized")).install(monkeypatch)
    with pytest.raises(PushError, match="token was rejected"):
        hub.push(tiny, f"{USER}/tiny", token=SECRET)
    with pytest.raises(PushError, match="needs a namespace"):
        hub.push(tiny, "tiny", token=SECRET)
    with pytest.raises(PushError, match="Invalid repo id"):
        hub.push(tiny, "a/b/c", token=SECRET)


def test_the_token_never_appears_in_output_logs_or_errors(tiny, monkeypatch, capsys, caplog, tmp_path):
    caplog.set_level(logging.DEBUG)
    messages = []
    CapturedHub(existing={f"{USER}/taken"}).install(monkeypatch)
    hub.push(tiny, f"{USER}/ok", token=SECRET)
    for repo_id in ("nobody/x", f"{USER}/taken"):
        with pytest.raises(PushError) as error:
            hub.push(tiny, repo_id, token=SECRET)
        messages.append(str(error.value))
    CapturedHub(whoami_error=http_error(401, "Unauthorized")).install(monkeypatch)
    with pytest.raises(PushError) as error:
        hub.push(tiny, f"{USER}/x", token=SECRET)
    messages.append(str(error.value))
    # The command line reads the token from HF_TOKEN.
    monkeypatch.setenv("HF_TOKEN", SECRET)
    CapturedHub().install(monkeypatch)
    saved = tmp_path / "tiny"
    tiny.save(str(saved))
    assert main(["push", str(saved), f"{USER}/cli", "--license", "mit"]) == 0
    captured = capsys.readouterr()
    assert "pushed" in captured.out
    for text in [captured.out, captured.err, caplog.text, *messages]:
        assert SECRET not in text


def test_bfloat16_weights_are_half_the_size_keep_tied_weights_once_and_reload(tiny, tmp_path):
    full = hub.export(tiny, tmp_path / "fp32", license="mit")
    half = hub.export(tiny, tmp_path / "bf16", dtype="bfloat16", license="mit")
    weights = half.folder / "model.safetensors"
    with safe_open(str(weights), "pt") as f:
        keys = list(f.keys())
        assert {f.get_tensor(k).dtype for k in keys} == {torch.bfloat16}
    assert "lm_head.weight" not in keys  # tied to the embeddings, stored once
    assert weights.stat().st_size < 0.55 * (full.folder / "model.safetensors").stat().st_size
    texts = ["I love cat!", "Where is my refund?"]
    reloaded = SentenceTransformer(str(half.folder), trust_remote_code=True).encode(texts, prompt="x?")
    original = tiny.encode(texts, prompt="x?")
    cosine = (reloaded * original).sum(1) / np.linalg.norm(reloaded, axis=1) / np.linalg.norm(original, axis=1)
    assert cosine.min() > 0.99
    assert "bfloat16 safetensors" in (half.folder / "README.md").read_text()


def test_cli_export_then_dry_run_push_lists_files_and_card_metadata(
    tiny, tmp_path, capsys, monkeypatch, no_saved_token
):
    hub_calls = CapturedHub().install(monkeypatch)
    saved = tmp_path / "saved"
    tiny.save(str(saved))
    out = tmp_path / "exported"
    assert (
        main(
            [
                "export",
                str(saved),
                str(out),
                "--license",
                "mit",
                "--model-id",
                f"{ORG}/tiny",
                "--dataset",
                "rajpurkar/squad",
            ]
        )
        == 0
    )
    assert "model.safetensors" in capsys.readouterr().out
    assert main(["push", str(out), f"{ORG}/tiny", "--dry-run"]) == 0  # a dry run needs no token
    listing = capsys.readouterr().out
    assert "README.md" in listing and "model.safetensors" in listing
    assert "library_name: sentence-transformers" in listing and "- rajpurkar/squad" in listing
    assert main(["push", str(saved), f"{ORG}/tiny", "--dry-run", "--license", "mit"]) == 0  # exports first
    assert "license: mit" in capsys.readouterr().out
    assert hub_calls.calls == []


def test_cli_errors_are_one_line_with_status_2(tiny, tmp_path, capsys, monkeypatch, no_saved_token):
    saved = tmp_path / "saved"
    tiny.save(str(saved))
    assert main(["push", str(saved), f"{USER}/x"]) == 2
    assert "No Hugging Face token" in capsys.readouterr().err
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x.txt").write_text("x")
    assert main(["export", str(saved), str(tmp_path / "full")]) == 2
    assert "is not empty" in capsys.readouterr().err
    # An exported folder's card must load the repo it is pushed to.
    assert main(["export", str(saved), str(tmp_path / "e"), "--model-id", f"{USER}/a"]) == 0
    assert main(["push", str(tmp_path / "e"), f"{USER}/b", "--dry-run"]) == 2  # a dry run refuses it too
    capsys.readouterr()
    monkeypatch.setenv("HF_TOKEN", SECRET)
    CapturedHub().install(monkeypatch)
    assert main(["push", str(tmp_path / "e"), f"{USER}/b"]) == 2
    assert "export again with model_id='alice/b'" in capsys.readouterr().err


def test_an_adapter_with_a_local_base_is_not_pushed(default_model, monkeypatch):
    hub_calls = CapturedHub().install(monkeypatch)
    with pytest.raises(PushError, match="local base model"):
        hub.push(default_model, f"{USER}/adapter", token=SECRET, weights="adapter")
    assert "create_repo" not in hub_calls.names()
