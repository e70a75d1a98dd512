"""Clustering under an instruction, scored the paper's way (KMeans V-measure).

The texts of a set are embedded under the subset's instruction, clustered with
``MiniBatchKMeans(n_clusters=<number of gold labels>, batch_size=500, n_init="auto")`` seeded with the
task seed (42; what mteb's own, private, ``ClusteringEvaluator`` does), and scored with ``v_measure_score``.

Accepted data (the paper's evaluator accepts both): rows ``text`` + ``cluster`` (all rows form one
set), or mteb rows ``sentences`` + ``labels`` holding lists (each row is a set; the score is the mean over
sets). ``dataset_transform`` turns both into the list form.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from datasets import Dataset
from mteb.abstasks.clustering_legacy import AbsTaskClusteringLegacy
from sklearn.cluster import MiniBatchKMeans
from sklearn.metrics.cluster import v_measure_score

from mteb_tasks.instructed import InstructedTask, encode_texts

if TYPE_CHECKING:
    from mteb.abstasks.task_metadata import TaskMetadata

# Column pairs a clustering dataset may come with: (texts, labels).
CLUSTERING_BATCH_SIZE = 500
ROW_FORMATS = (("text", "cluster"), ("sentences", "labels"), ("text", "label"))


class AbsTaskInstructionClustering(InstructedTask, AbsTaskClusteringLegacy):
    """Main score ``v_measure``; the instruction is ``metadata.prompt`` (or ``subset_instructions``)."""

    input_column_name = "sentences"
    label_column_name = "labels"

    def dataset_transform(self, num_proc: int | None = None, **kwargs: Any) -> None:
        self.map_splits(lambda ds, subset, split: as_cluster_sets(ds, self.metadata.name, f"{subset}/{split}"))

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
    ) -> dict[str, Any]:
        metadata = self.metadata_with_instruction(self.instruction_for(hf_subset))
        v_measures, assignments = [], []
        for texts, labels in zip(data_split[self.input_column_name], data_split[self.label_column_name], strict=True):
            predicted = self._cluster(
                model, texts, labels, metadata, hf_split, hf_subset, encode_kwargs, num_proc, timer
            )
            assignments.append(predicted)
            v_measures.append(float(v_measure_score(labels, predicted)) if predicted else 1.0)
        if prediction_folder:
            self._save_task_predictions(assignments, model, prediction_folder, hf_split=hf_split, hf_subset=hf_subset)
        return {
            "v_measure": float(np.mean(v_measures)),
            "v_measure_std": float(np.std(v_measures)),
            "v_measures": v_measures,
            "n_texts": int(sum(len(texts) for texts in data_split[self.input_column_name])),
            "n_clusters": int(np.mean([len(set(labels)) for labels in data_split[self.label_column_name]])),
        }

    def _cluster(
        self, model, texts, labels, metadata: TaskMetadata, hf_split, hf_subset, encode_kwargs, num_proc, timer
    ) -> list[int]:
        if len(set(labels)) <= 1:
            return []  # a single gold cluster: nothing to find (mteb scores it 1.0 too)
        with timer("Encoding", split=hf_split, subset=hf_subset):
            embeddings = encode_texts(
                model, list(texts), metadata, hf_split=hf_split, hf_subset=hf_subset, encode_kwargs=encode_kwargs,
                num_proc=num_proc,
            )  # fmt: skip
        with timer("Scoring", split=hf_split, subset=hf_subset):
            kmeans = MiniBatchKMeans(
                n_clusters=len(set(labels)), batch_size=CLUSTERING_BATCH_SIZE, n_init="auto", random_state=self.seed
            )
            return kmeans.fit(embeddings).labels_.tolist()


def as_cluster_sets(dataset: Dataset, task_name: str, where: str) -> Dataset:
    """Rows of one of ``ROW_FORMATS`` -> rows ``sentences: list[str]``, ``labels: list[str]``."""
    for text_column, label_column in ROW_FORMATS:
        if text_column in dataset.column_names and label_column in dataset.column_names:
            break
    else:
        raise ValueError(
            f"Task {task_name!r} ({where}): expected columns {' or '.join('+'.join(f) for f in ROW_FORMATS)}; "
            f"found {dataset.column_names}."
        )
    texts, labels = dataset[text_column], dataset[label_column]
    if len(texts) and isinstance(texts[0], list):  # already sets
        sets = [(list(t), [str(x) for x in lab]) for t, lab in zip(texts, labels, strict=True)]
    else:
        sets = [(list(texts), [str(x) for x in labels])]
    for number, (set_texts, set_labels) in enumerate(sets):
        if len(set_texts) != len(set_labels):
            raise ValueError(
                f"Task {task_name!r} ({where}), set {number}: {len(set_texts)} texts but {len(set_labels)} labels."
            )
    return Dataset.from_dict({"sentences": [s[0] for s in sets], "labels": [s[1] for s in sets]})
