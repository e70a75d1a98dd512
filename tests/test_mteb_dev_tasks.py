"""The dev suite over the real data in ../shared/data: readers, task sizes and instructions (no model)."""

import socket
from collections import Counter

import pytest

from conftest import SHARED_DATA, shared_file
from mteb_tasks import DEV_TASKS, dev_tasks, get_tasks
from mteb_tasks import dev_data
from mteb_tasks.paper_tasks import FewRelClustering


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("a test tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)


@pytest.fixture(scope="module")
def root():
    shared_file("DATA.md")
    return SHARED_DATA


def test_dual_aspect_readers(root):
    sls = dev_data.sls_rows(root)
    assert len(sls) == 3000 and Counter(r["source"] for r in sls) == {s: 1000 for s in dev_data.SLS_SOURCES.values()}
    assert Counter(r["sentiment"] for r in sls) == {"negative": 1500, "positive": 1500}
    acos = dev_data.acos_laptop_rows(root)
    assert {r["sentiment"] for r in acos} == {"negative", "neutral", "positive"}
    assert min(Counter(r["entity"] for r in acos).values()) >= 30 and "laptop" in {r["entity"] for r in acos}
    hu_liu = dev_data.hu_liu_rows(root)
    assert len({r["product"] for r in hu_liu}) == 14 and {r["polarity"] for r in hu_liu} == {"negative", "positive"}
    assert not any("##" in r["text"] or r["text"].startswith("[t]") for r in hu_liu)


def test_clustering_and_sts_readers(root):
    assert len({r["intent"] for r in dev_data.banking77_rows(root)}) == 77
    assert len({r["emotion"] for r in dev_data.emotion_rows(root)}) == 6
    fewrel = dev_data.fewrel_rows(root)
    assert len(fewrel) == 16 * 700 and len({r["relation"] for r in fewrel}) == 16
    sentence, entities = fewrel[0]["text"].split("\n")
    head, tail = entities.split(" ; ")
    assert head in sentence and tail in sentence  # the pair is appended after the sentence, as the paper's data
    stsb = dev_data.stsb_rows(root)
    assert len(stsb) == 1379 and all(0 <= r["score"] <= 5 for r in stsb)


def test_the_dev_suite_sizes_and_instructions(root):
    tasks = {task.metadata.name: task for task in dev_tasks(root)}
    assert list(tasks) == list(DEV_TASKS)
    sizes = {}
    for name, task in tasks.items():
        task.load_data()
        for subset, splits in task.splits_by_subset().items():
            data = splits["test"]
            sizes[(name, subset)] = sum(map(len, data["sentences"])) if "sentences" in data.column_names else len(data)
    assert sizes == {
        ("SentimentLabelledSentencesTriplets", "source"): 200,
        ("SentimentLabelledSentencesTriplets", "sentiment"): 200,
        ("LaptopACOSTriplets", "entity"): 200,
        ("LaptopACOSTriplets", "sentiment"): 200,
        ("HuLiuReviewsTriplets", "product"): 200,
        ("HuLiuReviewsTriplets", "polarity"): 200,
        ("Banking77IntentClustering", "default"): 770,
        ("EmotionClustering", "default"): 566,  # "surprise" has only 66 test sentences
        ("FewRelRelationClustering", "default"): 640,
        ("STSBNeutralInstruction", "default"): 500,
    }
    assert tasks["SentimentLabelledSentencesTriplets"].instruction_for("sentiment") == "How does the reviewer feel?"
    assert tasks["FewRelRelationClustering"].instruction_for("default") == FewRelClustering.metadata.prompt
    assert len(tasks["FewRelRelationClustering"].instruction_variants["incorrect"]) == 10


def test_suites_resolve_names_and_robustness_variants(root):
    tasks = get_tasks(["EmotionClustering", "FewRelRelationClustering"], data=root, robustness=True)
    assert [t.metadata.name for t in tasks[:2]] == ["EmotionClustering", "FewRelRelationClustering"]
    assert len(tasks) == 2 + 30 and tasks[-1].metadata.name == "FewRelRelationClustering__incorrect09"
    with pytest.raises(KeyError, match="Unknown task 'NoSuchTask'"):
        get_tasks(["NoSuchTask"], data=root)


def test_a_missing_data_folder_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="no-data is not a folder"):
        dev_tasks(tmp_path / "no-data")
