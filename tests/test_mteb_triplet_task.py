"""The triplet task type: strict scoring, one instruction per subset through mteb.evaluate, mteb result files.

A tiny deterministic encoder stands in for a model here: it embeds a text "emotion=X intent=Y" as a
one-hot of the label that the instruction asks about, so success is 100% exactly when each subset's
instruction reaches the encoder, and 0% when they are swapped.
"""

import json
import socket
import zlib

import mteb
import numpy as np
import pytest
from mteb.cache import ResultCache
from mteb.models import ModelMeta
from mteb.models.abs_encoder import AbsEncoder
from mteb.results import TaskResult

from mteb_tasks import AbsTaskTriplet, Aspect, TripletTaskMetadata, dual_aspect_triplet_task
from mteb_tasks.abstask_triplet import triplet_scores

FEEL, NEED = "How does the customer feel?", "What does the customer need?"


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("a test tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)


class AspectEncoder(AbsEncoder):
    """One-hot of the label asked about by the instruction (``mteb`` resolves the instruction)."""

    def __init__(self, questions: dict[str, str]):
        self.questions = questions
        self.mteb_model_meta = ModelMeta.create_empty({"name": "test/aspect-encoder", "revision": "1"})
        self.instructions_seen: list[str] = []

    def encode(self, inputs, *, task_metadata, hf_split, hf_subset, prompt_type=None, **kwargs):
        instruction = self.get_instruction(task_metadata, prompt_type)
        self.instructions_seen.append(instruction)
        aspect = self.questions[instruction]
        texts = [text for batch in inputs for text in batch["text"]]
        vectors = np.zeros((len(texts), 64), dtype=np.float32)
        for row, text in enumerate(texts):
            labels = dict(part.split("=") for part in text.split() if "=" in part)
            vectors[row, zlib.crc32(labels[aspect].encode()) % 64] = 1.0
        return vectors


def customer_table() -> list[dict]:
    emotions, intents = ["angry", "happy", "worried"], ["refund", "card", "transfer"]
    return [
        {"text": f"emotion={e} intent={i} #{n}", "emotion": e, "intent": i}
        for e in emotions
        for i in intents
        for n in range(4)
    ]


def customer_task(n_triplets: int = 20) -> AbsTaskTriplet:
    return dual_aspect_triplet_task(
        "CustomerTriplets",
        customer_table(),
        aspects={"emotion": Aspect("emotion", FEEL), "intent": Aspect("intent", NEED)},
        n_triplets=n_triplets,
    )


def test_success_is_strict_a_tie_fails():
    scores = triplet_scores([0.9, 0.5, 0.5, 0.1], [0.1, 0.5, 0.6, 0.0])
    assert scores["success_rate"] == 0.5  # rows 0 and 3 succeed, the tie (row 1) fails
    assert scores["n_triplets"] == 4
    with pytest.raises(ValueError, match="no triplets"):
        triplet_scores([], [])


def test_triplet_metadata_knows_the_triplet_type():
    metadata = customer_task().metadata
    assert isinstance(metadata, TripletTaskMetadata) and metadata.type == "Triplet"
    assert metadata.main_score == "success_rate" and metadata.hf_subsets == ["emotion", "intent"]
    assert metadata.simplified_task_type == "semantic-similarity"


def test_each_subset_is_embedded_under_its_own_instruction(tmp_path):
    encoder = AspectEncoder({FEEL: "emotion", NEED: "intent"})
    result = mteb.evaluate(encoder, customer_task(), cache=ResultCache(tmp_path), show_progress_bar=False)
    scores = {s["hf_subset"]: s for s in result.task_results[0].scores["test"]}
    assert scores["emotion"]["main_score"] == scores["intent"]["main_score"] == 1.0
    assert set(encoder.instructions_seen) == {FEEL, NEED}

    swapped = AspectEncoder({FEEL: "intent", NEED: "emotion"})  # answers the other question
    result = mteb.evaluate(swapped, customer_task(), cache=None, show_progress_bar=False)
    assert all(s["success_rate"] == 0.0 for s in result.task_results[0].scores["test"])


def test_results_are_saved_in_mtebs_result_format(tmp_path):
    mteb.evaluate(
        AspectEncoder({FEEL: "emotion", NEED: "intent"}),
        customer_task(),
        cache=ResultCache(tmp_path),
        show_progress_bar=False,
    )
    [path] = tmp_path.glob("results/test__aspect-encoder/1/CustomerTriplets.json")
    loaded = TaskResult.from_disk(path)
    assert loaded.task_name == "CustomerTriplets"
    assert loaded.dataset_revision == customer_task().metadata.revision
    subsets = {s["hf_subset"]: s for s in loaded.scores["test"]}
    assert subsets["intent"]["success_rate"] == 1.0 and subsets["intent"]["n_triplets"] == 20
    assert json.loads((path.parent / "model_meta.json").read_text())["name"] == "test/aspect-encoder"


def test_a_users_prompts_dict_overrides_the_task_instruction_like_for_any_mteb_task():
    encoder = AspectEncoder({FEEL: "emotion", NEED: "intent", "Which emotion?": "emotion"})
    encoder.prompts_dict = {"CustomerTriplets": "Which emotion?"}
    result = mteb.evaluate(encoder, customer_task(), cache=None, show_progress_bar=False)
    scores = {s["hf_subset"]: s["main_score"] for s in result.task_results[0].scores["test"]}
    assert set(encoder.instructions_seen) == {"Which emotion?"}
    assert scores == {"emotion": 1.0, "intent": 0.0}


def test_predictions_and_descriptive_statistics(tmp_path):
    task = customer_task(n_triplets=10)
    mteb.evaluate(
        AspectEncoder({FEEL: "emotion", NEED: "intent"}),
        task,
        cache=None,
        prediction_folder=tmp_path,
        show_progress_bar=False,
    )
    predictions = json.loads((tmp_path / "CustomerTriplets_predictions.json").read_text())
    assert len(predictions["emotion"]["test"]["cos_anchor_positive"]) == 10
    task.load_data()
    stats = task._calculate_descriptive_statistics_from_split("test", hf_subset="emotion")
    assert stats["num_samples"] == 10 and stats["unique_triplets"] == 10
    assert stats["anchor_statistics"]["unique_texts"] == 10  # anchors are distinct rows
    assert stats["number_of_characters"] == sum(
        stats[f"{c}_statistics"]["total_text_length"] for c in ("anchor", "positive", "negative")
    )


def test_a_triplet_dataset_without_the_columns_is_named_in_the_error():
    task = dual_aspect_triplet_task(
        "BrokenTriplets",
        customer_table(),
        aspects={"emotion": ("emotion", FEEL), "intent": ("intent", NEED)},
        n_triplets=2,
    )
    task.load_data()
    task.dataset["emotion"]["test"] = task.dataset["emotion"]["test"].remove_columns("negative")
    with pytest.raises(ValueError, match=r"'BrokenTriplets', subset 'emotion': missing triplet columns \['negative'\]"):
        mteb.evaluate(AspectEncoder({FEEL: "emotion", NEED: "intent"}), task, cache=None, show_progress_bar=False)
