"""Texts to fit instruction heads on for the dev suite: one corpus per dev instruction, disjoint from every
text any dev task tests on.

- the dual-aspect instructions: the rows of their table that no dev triplet uses ("How does the reviewer feel?"
  is asked of three tables, so its corpus is the unused rows of all three);
- banking77, emotion and STS-B: their train splits; FewRel: the validation rows the clustering task did not
  sample.
A text that also occurs in any dev test set (a duplicate across splits) is left out, so no head is fitted on a
text it is scored on.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from mteb_tasks import dev_data
from mteb_tasks.dev_tasks import DEV_TASKS, dev_tasks


def _train_texts(root: Path) -> dict[str, Callable[[], list[str]]]:
    from mteb_tasks.paper_tasks import FewRelClustering

    def rows(reader, *args) -> Callable[[], list[str]]:
        return lambda: [row["text"] for row in reader(root, *args)]

    def stsb() -> list[str]:
        return [text for row in dev_data.stsb_rows(root, "train") for text in (row["sentence1"], row["sentence2"])]

    def reviews() -> list[str]:
        return rows(dev_data.sls_rows)() + rows(dev_data.acos_laptop_rows)() + rows(dev_data.hu_liu_rows)()

    return {
        "What is being reviewed?": rows(dev_data.sls_rows),
        "How does the reviewer feel?": reviews,
        "Which part of the laptop is discussed?": rows(dev_data.acos_laptop_rows),
        "Which product is reviewed?": rows(dev_data.hu_liu_rows),
        "What does the customer need?": rows(dev_data.banking77_rows, "train"),
        "How does the writer feel?": rows(dev_data.emotion_rows, "train"),
        FewRelClustering.metadata.prompt: rows(dev_data.fewrel_rows),
        "What is this sentence about?": stsb,
    }


def dev_test_texts(data: str | Path | None = None) -> set[str]:
    """Every text the dev tasks embed when they are evaluated (all subsets, all columns)."""
    texts: set[str] = set()
    for task in dev_tasks(data):
        task.load_data()
        for splits in task.splits_by_subset().values():
            for dataset in splits.values():
                for column in dataset.column_names:
                    for value in dataset[column]:
                        texts.update(value if isinstance(value, list) else [value] if isinstance(value, str) else [])
    return texts


def dev_head_corpora(data: str | Path | None = None) -> dict[str, list[str]]:
    """{instruction: distinct texts to fit its head on}, in a stable order, none of them a dev test text."""
    root = dev_data.data_root(data)
    held_out = dev_test_texts(root)
    corpora = {}
    for instruction, read in _train_texts(root).items():
        corpora[instruction] = [text for text in dict.fromkeys(read()) if text.strip() and text not in held_out]
    return corpora


def dev_instructions(data: str | Path | None = None) -> dict[str, list[str]]:
    """{instruction: the dev tasks (task/subset) that ask it}."""
    asked: dict[str, list[str]] = {}
    for task in dev_tasks(data):
        for subset in task.metadata.hf_subsets or ["default"]:
            asked.setdefault(task.instruction_for(subset), []).append(f"{task.metadata.name}/{subset}")
    return asked


__all__ = ["DEV_TASKS", "dev_head_corpora", "dev_instructions", "dev_test_texts"]
