"""Robustness: instruction variants are ordinary tasks, and dci/dii follow the paper's definition."""

import socket
import zlib

import mteb
import numpy as np
import pytest
from mteb.models import ModelMeta
from mteb.models.abs_encoder import AbsEncoder

from mteb_tasks import FewRelClustering, IntentEmotion, instruction_clustering_task, robustness_scores, robustness_tasks
from mteb_tasks.aggregate import main_scores
from mteb_tasks.paper_tasks import PAPER_VARIANTS
from mteb_tasks.robustness import parse_variant_name, variant_name

VARIANTS = {
    "correct": ["What is the label?", "Which label is it?"],
    "implicit": ["Tell me about it."],
    "incorrect": ["How long is it?", "Is it polite?"],
}


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("a test tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)


class HalfListeningEncoder(AbsEncoder):
    """Finds the label (one-hot) under a correct or implicit instruction, sees only noise under a wrong one."""

    mteb_model_meta = ModelMeta.create_empty({"name": "test/half-listening", "revision": "1"})

    def encode(self, inputs, *, task_metadata, hf_split, hf_subset, prompt_type=None, **kwargs):
        instruction = self.get_instruction(task_metadata, prompt_type)
        texts = [text for batch in inputs for text in batch["text"]]
        if instruction in VARIANTS["incorrect"]:
            return np.random.default_rng(zlib.crc32(instruction.encode())).normal(size=(len(texts), 8))
        vectors = np.zeros((len(texts), 8))
        for row, text in enumerate(texts):
            vectors[row, zlib.crc32(text.split()[0].encode()) % 8] = 1.0
        return vectors


def labelled_task():
    rows = [{"text": f"{label} item {n}", "label": label} for label in ("alpha", "beta", "gamma") for n in range(6)]
    return instruction_clustering_task(
        "Labels", rows, label_column="label", instruction="What is the label?", instruction_variants=VARIANTS
    )


def test_the_paper_tasks_get_thirty_named_variants_each_asking_one_listed_instruction():
    task = FewRelClustering()
    variants = robustness_tasks(task)
    assert len(variants) == 30
    assert [v.metadata.name for v in variants[:2]] == ["FewRelClustering__correct00", "FewRelClustering__correct01"]
    expected = [i for kind in ("correct", "implicit", "incorrect") for i in PAPER_VARIANTS["FewRelClustering"][kind]]
    assert [v.metadata.prompt for v in variants] == expected
    assert all(v.metadata.dataset == task.metadata.dataset for v in variants)
    assert type(variants[0]).metadata is variants[0].metadata  # on the class: survives mteb's unload_data()


def test_tasks_without_lists_or_with_per_subset_instructions_have_no_variants():
    with pytest.raises(ValueError, match="'IntentEmotion' has no robustness instructions"):
        robustness_tasks(IntentEmotion())


def test_variant_names_round_trip():
    assert parse_variant_name(variant_name("NYTTopicClustering", "implicit", 7)) == (
        "NYTTopicClustering",
        "implicit",
        7,
    )
    assert parse_variant_name("NYTTopicClustering") is None


def test_dci_and_dii_from_the_variant_scores():
    scores = {
        "T": 0.9,
        "T__correct00": 0.8,
        "T__correct01": 0.7,
        "T__implicit00": 0.6,
        "T__incorrect00": 0.2,
        "T__incorrect01": 0.5,
    }
    report = robustness_scores(scores)["T"]
    assert report["dci"] == pytest.approx(0.7 - 0.5) and report["dii"] == pytest.approx(0.6 - 0.5)
    assert robustness_scores({"T__correct00": 0.8}) == {}  # a partial run reports nothing


def test_a_robustness_run_through_mteb_evaluate():
    task = labelled_task()
    results = mteb.evaluate(
        HalfListeningEncoder(), [task, *robustness_tasks(task)], cache=None, show_progress_bar=False
    )
    scores = {r.task_name: main_scores(r)["default"] for r in results.task_results}
    assert len(scores) == 1 + 5
    assert scores["Labels"] == scores["Labels__correct00"] == 1.0
    report = robustness_scores(scores)["Labels"]
    assert report["dci"] > 0.5 and report["dii"] > 0.5 and report["n_variants"] == 5
