"""The triplet task type mteb 2 lacks (the paper's IntentEmotion protocol).

Each row is (anchor, positive, negative); each subset asks one instruction, and anchors, positives and
negatives are all embedded under it. A triplet succeeds when cos(anchor, positive) > cos(anchor, negative),
strictly (a tie, e.g. a model that ignores the difference, is a failure). Score: the success rate.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Literal, TypedDict

import numpy as np
from mteb.abstasks.task_metadata import TaskMetadata, TaskType
from mteb.types.statistics import SplitDescriptiveStatistics, TextStatistics

from mteb_tasks.instructed import InstructedTask, cosine_pairs

if TYPE_CHECKING:
    from datasets import Dataset

logger = logging.getLogger(__name__)

TRIPLET_COLUMNS = ("anchor", "positive", "negative")


class TripletTaskMetadata(TaskMetadata):
    """TaskMetadata that also accepts the task type "Triplet"."""

    type: TaskType | Literal["Triplet"]

    @property
    def simplified_task_type(self):
        return "semantic-similarity" if self.type == "Triplet" else super().simplified_task_type


class TripletScores(TypedDict):
    success_rate: float
    n_triplets: int
    mean_margin: float  # mean of cos(a,p) - cos(a,n): how clearly the instruction separates them


class TripletDescriptiveStatistics(SplitDescriptiveStatistics):
    num_samples: int
    number_of_characters: int
    unique_triplets: int
    anchor_statistics: TextStatistics
    positive_statistics: TextStatistics
    negative_statistics: TextStatistics


class TripletEvaluator:
    """Embeds a subset's triplets under the instruction carried by ``task`` and scores them."""

    def __init__(self, dataset: Dataset, *, task: InstructedTask, instruction: str, hf_split: str, hf_subset: str):
        self.dataset = dataset
        self.task = task
        self.instruction = instruction
        self.hf_split = hf_split
        self.hf_subset = hf_subset

    def __call__(self, model, *, encode_kwargs: dict[str, Any], num_proc: int | None = None) -> dict[str, list[float]]:
        columns = [list(self.dataset[name]) for name in TRIPLET_COLUMNS]
        n = len(columns[0])
        embeddings = self.task.embed(
            model,
            [text for column in columns for text in column],  # one call: shared texts are embedded once
            self.instruction,
            hf_split=self.hf_split,
            hf_subset=self.hf_subset,
            encode_kwargs=encode_kwargs,
            num_proc=num_proc,
        )
        anchors, positives, negatives = embeddings[:n], embeddings[n : 2 * n], embeddings[2 * n :]
        return {
            "cos_anchor_positive": cosine_pairs(anchors, positives).tolist(),
            "cos_anchor_negative": cosine_pairs(anchors, negatives).tolist(),
        }


class AbsTaskTriplet(InstructedTask):
    """Rows ``anchor``, ``positive``, ``negative`` (strings); one instruction per subset; main score
    ``success_rate``."""

    abstask_prompt = "Embed the text according to the instruction."

    def _get_content_columns(self):
        return {column: "text" for column in TRIPLET_COLUMNS}

    def _evaluate_subset(
        self,
        model,
        data_split,
        *,
        hf_split,
        hf_subset,
        encode_kwargs,
        prediction_folder=None,
        num_proc=None,
        timer,
        **kwargs,
    ) -> TripletScores:
        check_triplet_columns(data_split, self.metadata.name, hf_subset)
        evaluator = TripletEvaluator(
            data_split,
            task=self,
            instruction=self.instruction_for(hf_subset),
            hf_split=hf_split,
            hf_subset=hf_subset,
        )
        with timer("Encoding and scoring", split=hf_split, subset=hf_subset):
            similarities = evaluator(model, encode_kwargs=encode_kwargs, num_proc=num_proc)
        if prediction_folder:
            self._save_task_predictions(similarities, model, prediction_folder, hf_split=hf_split, hf_subset=hf_subset)
        return triplet_scores(similarities["cos_anchor_positive"], similarities["cos_anchor_negative"])

    def _calculate_descriptive_statistics_from_split(
        self, split: str, *, hf_subset: str | None = None, compute_overall: bool = False, num_proc: int | None = None
    ) -> TripletDescriptiveStatistics:
        by_subset = self.splits_by_subset()
        subsets = [hf_subset] if hf_subset else list(by_subset)
        columns = {name: [] for name in TRIPLET_COLUMNS}
        for subset in subsets:
            for name in TRIPLET_COLUMNS:
                columns[name].extend(by_subset[subset][split][name])
        stats = {name: text_statistics(texts) for name, texts in columns.items()}
        return TripletDescriptiveStatistics(
            num_samples=len(columns["anchor"]),
            number_of_characters=sum(s["total_text_length"] for s in stats.values()),
            unique_triplets=len(set(zip(*columns.values(), strict=True))),
            anchor_statistics=stats["anchor"],
            positive_statistics=stats["positive"],
            negative_statistics=stats["negative"],
        )

    def _push_dataset_to_hub(self, repo_name: str, num_proc: int | None = None, **kwargs) -> None:
        self._upload_dataset_to_hub(repo_name, list(TRIPLET_COLUMNS), num_proc=num_proc, **kwargs)


def triplet_scores(cos_anchor_positive: list[float], cos_anchor_negative: list[float]) -> TripletScores:
    positive, negative = np.asarray(cos_anchor_positive), np.asarray(cos_anchor_negative)
    if positive.size == 0:
        raise ValueError("A triplet subset with no triplets cannot be scored.")
    return TripletScores(
        success_rate=float(np.mean(positive > negative)),  # strict: ties fail
        n_triplets=int(positive.size),
        mean_margin=float(np.mean(positive - negative)),
    )


def text_statistics(texts: list[str]) -> TextStatistics:
    """mteb's descriptive statistics of a text column (lengths in characters, distinct texts)."""
    lengths = [len(text) for text in texts]
    return TextStatistics(
        total_text_length=sum(lengths),
        min_text_length=min(lengths),
        average_text_length=sum(lengths) / len(lengths),
        max_text_length=max(lengths),
        unique_texts=len(set(texts)),
    )


def check_triplet_columns(dataset: Dataset, task_name: str, hf_subset: str) -> None:
    missing = [name for name in TRIPLET_COLUMNS if name not in dataset.column_names]
    if missing:
        raise ValueError(
            f"Task {task_name!r}, subset {hf_subset!r}: missing triplet columns {missing}; found {dataset.column_names}."
        )
