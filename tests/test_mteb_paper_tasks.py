"""The paper's hub tasks load and score through their real code path on local fixtures (never the network),
and the InBedder module receives exactly each task's instruction for every subset and row."""

import json
import socket

import mteb
import pytest

from conftest import REPO, SHARED_REFERENCE, shared_file
from inbedder_st.module import InBedder
from mteb_tasks import PAPER_TASKS, LOCAL_DATASETS_ENV, IntentEmotion, NYTTopicClustering
from mteb_tasks.hub import load_dataset_args

FIXTURES = REPO / "tests" / "fixtures" / "mteb"

# Verbatim from the paper's code (zhang-yu-wei/InBedder @3d95d4fa); InstructSTSB has one per row.
INSTRUCTIONS = {
    ("IntentEmotion", "emotion"): "How does the customer feel?",
    ("IntentEmotion", "intent"): "What does the customer need?",
    ("NYTTopicClustering", "default"): "What is the topic of news?",
    ("NYTLocationClustering", "default"): "Where did the news happen?",
    (
        "RateMyProfClustering",
        "default",
    ): "Here is a student review on the course and the professor. Categorize the aspect the student is discussing about.",
    (
        "FeedbacksClustering",
        "default",
    ): "Here is a human feedback on machine-generated text. Categorize the type of reason why the human like or dislike it.",
    (
        "FewRelClustering",
        "default",
    ): "Here is a sentence. Please tell me the relation type between two specified entities appended after the sentence.",
    (
        "FewNerdClustering",
        "default",
    ): "Here is a sentence. Please tell me the type of the specified entity appended after the sentence.",
    (
        "FewEventClustering",
        "default",
    ): "Here is a sentence. Please tell me the type of the specified event according to the trigger words appended after the sentence.",
}
FIXTURE_FILES = {  # (task, subset) -> the fixture file the hub dataset is mirrored by
    ("IntentEmotion", "emotion"): "BrandonZYW/IntentEmotion/emotion/test.jsonl",
    ("IntentEmotion", "intent"): "BrandonZYW/IntentEmotion/intent/test.jsonl",
    ("InstructSTSBenchmark", "default"): "BrandonZYW/InstructSTSB/test.jsonl",
    ("NYTTopicClustering", "default"): "BrandonZYW/NYTClustering/topic/test.jsonl",
    ("NYTLocationClustering", "default"): "BrandonZYW/NYTClustering/location/test.jsonl",
    ("RateMyProfClustering", "default"): "BrandonZYW/RateMyProfClustering/test.jsonl",
    ("FeedbacksClustering", "default"): "BrandonZYW/FeedbacksClustering/test.jsonl",
    ("FewRelClustering", "default"): "BrandonZYW/FewRelClustering/test.jsonl",
    ("FewNerdClustering", "default"): "BrandonZYW/FewNerdClustering/test.jsonl",
    ("FewEventClustering", "default"): "BrandonZYW/FewEventClustering/test.jsonl",
}


@pytest.fixture(autouse=True)
def offline_mirror(monkeypatch):
    """Hub tasks read the local mirror; any network connection fails the test."""

    def refuse(*args, **kwargs):
        raise OSError("a test tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setenv(LOCAL_DATASETS_ENV, str(FIXTURES))


def fixture_rows(task: str, subset: str) -> list[dict]:
    lines = (FIXTURES / FIXTURE_FILES[(task, subset)]).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def expected_prompts() -> set[tuple[str, str]]:
    """Every (text, instruction) the model must see: read straight from the fixture files."""
    pairs = set()
    for task, subset in FIXTURE_FILES:
        for row in fixture_rows(task, subset):
            if task == "InstructSTSBenchmark":
                pairs |= {(row["sentence1"], row["instruction"]), (row["sentence2"], row["instruction"])}
            elif task == "IntentEmotion":
                pairs |= {(row[c], INSTRUCTIONS[(task, subset)]) for c in ("anchor", "positive", "negative")}
            else:
                texts = row.get("sentences", row.get("text"))
                pairs |= {
                    (text, INSTRUCTIONS[(task, subset)]) for text in (texts if isinstance(texts, list) else [texts])
                }
    return pairs


def test_tasks_keep_the_hub_ids_and_pinned_revisions_while_the_mirror_only_changes_the_path():
    task = NYTTopicClustering()
    assert task.metadata.dataset == {
        "path": "BrandonZYW/NYTClustering", "revision": "462fb544c8993a0421fd969a7a0f19f1fbd975bf", "name": "topic"
    }  # fmt: skip
    args = load_dataset_args(task.metadata.name, task.metadata.dataset)
    assert args == {**task.metadata.dataset, "path": str(FIXTURES / "BrandonZYW/NYTClustering")}


def test_a_mirror_without_the_dataset_names_task_and_folder(tmp_path, monkeypatch):
    monkeypatch.setenv(LOCAL_DATASETS_ENV, str(tmp_path))
    with pytest.raises(FileNotFoundError, match=r"'IntentEmotion' reads hub dataset 'BrandonZYW/IntentEmotion'"):
        IntentEmotion().load_data()


def test_every_paper_task_loads_its_subsets_from_the_mirror():
    for task_class in PAPER_TASKS:
        task = task_class()
        task.metadata._validate_metadata()  # mteb's own check (language codes)
        task.load_data()
        for subset, splits in task.splits_by_subset().items():
            rows = fixture_rows(task.metadata.name, subset)
            data = splits["test"]
            if task.metadata.type == "Clustering":  # collapsed into cluster sets
                assert data.column_names == ["sentences", "labels"]
                assert sum(len(s) for s in data["sentences"]) == sum(len(r.get("sentences", [1])) for r in rows)
            else:
                assert len(data) == len(rows)


def test_ids_revisions_configs_and_instructions_match_the_papers_code():
    reference = json.loads(shared_file("paper_tasks.json", root=SHARED_REFERENCE).read_text(encoding="utf-8"))
    variants = json.loads((REPO / "mteb_tasks" / "paper_instructions.json").read_text(encoding="utf-8"))
    for task_class in PAPER_TASKS:
        task, expected = task_class(), reference[task_class.metadata.name]
        assert task.metadata.dataset["path"] == expected["hf_hub_name"]
        assert task.metadata.dataset["revision"] == expected["revision"]
        if isinstance(expected.get("config_name"), str):
            assert task.metadata.dataset["name"] == expected["config_name"]
        if isinstance(expected.get("instruction"), list):  # one per config
            assert [task.instruction_for(c) for c in expected["config_name"]] == expected["instruction"]
        elif "instruction" in expected:
            assert task.instruction_for("default") == expected["instruction"]
        for kind in ("correct", "implicit", "incorrect"):
            assert task.instruction_variants.get(kind, []) == expected.get(f"{kind}_instructions", [])
            if task.instruction_variants:
                assert variants[task.metadata.name][kind] == expected[f"{kind}_instructions"]


# mteb's generic wrapper warns that the model's named prompts ("emotion", ...) are not mteb task names.
@pytest.mark.filterwarnings("ignore:Task name .* is not valid", "ignore:Some prompts are not in the expected format")
def test_inbedder_receives_exactly_each_tasks_instruction(default_model, monkeypatch):
    """Through mteb's own path: the raw InBedderModel goes to mteb.evaluate, which wraps it; the module's
    preprocess() must get every text with exactly its task/subset/row instruction as the prompt."""
    seen: set[tuple[str, str]] = set()
    preprocess = InBedder.preprocess

    def spy(self, inputs, prompt=None, **kwargs):
        seen.update((text, prompt) for text in inputs)
        return preprocess(self, inputs, prompt=prompt, **kwargs)

    monkeypatch.setattr(InBedder, "preprocess", spy)
    results = mteb.evaluate(default_model, [cls() for cls in PAPER_TASKS], cache=None, show_progress_bar=False)
    assert not results.exceptions
    assert seen == expected_prompts()
    scores = {r.task_name: {s["hf_subset"]: s["main_score"] for s in r.scores["test"]} for r in results.task_results}
    assert set(scores) == {cls.metadata.name for cls in PAPER_TASKS}
    assert set(scores["IntentEmotion"]) == {"emotion", "intent"}
    assert all(
        0.0 <= v <= 1.0 for task in scores.values() for v in task.values() if task is not scores["InstructSTSBenchmark"]
    )
