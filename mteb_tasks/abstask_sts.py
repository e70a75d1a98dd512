"""STS where the instruction may change from row to row (the paper's InstructSTSB).

Both sentences of a pair are embedded under that pair's instruction (column ``instruction``; without the
column, the subset's instruction). Main score: Spearman correlation of cosine similarity with the gold
score (``cosine_spearman``); mteb's other STS metrics are reported beside it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from datasets import Dataset, DatasetDict
from mteb.abstasks.sts import AbsTaskSTS
from mteb.similarity_functions import compute_pairwise_similarity
from sklearn.metrics.pairwise import paired_euclidean_distances, paired_manhattan_distances

from mteb_tasks.instructed import InstructedTask, cosine_pairs

STS_COLUMNS = ("sentence1", "sentence2", "score")


class AbsTaskInstructionSTS(InstructedTask, AbsTaskSTS):
    instruction_column = "instruction"

    def dataset_transform(self, num_proc: int | None = None, **kwargs: Any) -> None:
        # The paper's loader wraps a dataset without a test split as {"test": ...}; so do we.
        def with_eval_split(splits: DatasetDict) -> DatasetDict:
            if all(split in splits for split in self.eval_splits) or len(splits) != 1:
                return splits
            return DatasetDict({self.eval_splits[0]: next(iter(splits.values()))})

        if self.metadata.is_multilingual:
            self.dataset = {subset: with_eval_split(splits) for subset, splits in self.dataset.items()}
        else:
            self.dataset = with_eval_split(self.dataset)

    def row_instructions(self, data_split: Dataset, hf_subset: str) -> list[str]:
        if self.instruction_column not in data_split.column_names:
            return [self.instruction_for(hf_subset)] * len(data_split)
        instructions = list(data_split[self.instruction_column])
        for row, instruction in enumerate(instructions):
            if not isinstance(instruction, str) or not instruction.strip():
                raise ValueError(f"Task {self.metadata.name!r}, subset {hf_subset!r}, row {row}: empty instruction.")
        return instructions

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
    ):
        missing = [c for c in STS_COLUMNS if c not in data_split.column_names]
        if missing:
            raise ValueError(f"Task {self.metadata.name!r}, subset {hf_subset!r}: missing columns {missing}.")
        n = len(data_split)
        instructions = self.row_instructions(data_split, hf_subset)
        with timer("Encoding", split=hf_split, subset=hf_subset):
            embeddings = self.embed_per_row(
                model,
                list(data_split["sentence1"]) + list(data_split["sentence2"]),
                instructions * 2,
                hf_split=hf_split,
                hf_subset=hf_subset,
                encode_kwargs=encode_kwargs,
                num_proc=num_proc,
            )
        first, second = embeddings[:n], embeddings[n:]
        scores = dict(  # the fields of mteb's STSEvaluatorScores, which AbsTaskSTS._calculate_scores reads
            cosine_scores=cosine_pairs(first, second).tolist(),
            manhattan_distances=(-paired_manhattan_distances(first, second)).tolist(),
            euclidean_distances=(-paired_euclidean_distances(first, second)).tolist(),
            similarity_scores=np.asarray(compute_pairwise_similarity(model, first, second)).tolist(),
        )
        if prediction_folder:
            self._save_task_predictions(scores, model, prediction_folder, hf_subset=hf_subset, hf_split=hf_split)
        gold = [self._normalize(x) for x in data_split["score"]]
        return self._calculate_scores(scores, gold)
