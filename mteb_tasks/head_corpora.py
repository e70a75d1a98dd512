"""Texts to fit instruction heads on for a suite (``dev`` or ``heldout``): one corpus per instruction the suite
asks, disjoint from every text any task of that suite tests on.

dev suite:
- the dual-aspect instructions: the rows of their table that no task uses ("How does the reviewer feel?" is
  asked of three tables, so its corpus is the unused rows of all three);
- banking77, emotion and STS-B: their train splits; FewRel: the validation rows the clustering task did not
  sample.
heldout suite (the held-out wordings of ``heldout_wordings.json``):
- each triplet wording: the unused rows of its own table;
- emotion and TweetEval irony: their train splits; TweetEval sentiment (it has no train split here, and is kept
  out of training): the validation rows the clustering task did not sample.
A text that also occurs in a test set of the suite (a duplicate across splits) is left out, so no head is
fitted on a text it is scored on.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from mteb_tasks import dev_data
from mteb_tasks.dev_tasks import dev_tasks
from mteb_tasks.heldout_tasks import COLLECTIONS, heldout_tasks, heldout_wordings

Reader = Callable[[], list[str]]
SUITES = ("dev", "heldout")


def _texts(reader, *args, **kwargs) -> Reader:
    return lambda: [row["text"] for row in reader(*args, **kwargs)]


def _dev_corpora(root: Path) -> dict[str, Reader]:
    from mteb_tasks.paper_tasks import FewRelClustering

    def stsb() -> list[str]:
        return [text for row in dev_data.stsb_rows(root, "train") for text in (row["sentence1"], row["sentence2"])]

    def reviews() -> list[str]:
        return [text for collection in COLLECTIONS.values() for text in _texts(collection[0], root)()]

    return {
        "What is being reviewed?": _texts(dev_data.sls_rows, root),
        "How does the reviewer feel?": reviews,
        "Which part of the laptop is discussed?": _texts(dev_data.acos_laptop_rows, root),
        "Which product is reviewed?": _texts(dev_data.hu_liu_rows, root),
        "What does the customer need?": _texts(dev_data.banking77_rows, root, "train"),
        "How does the writer feel?": _texts(dev_data.emotion_rows, root, "train"),
        FewRelClustering.metadata.prompt: _texts(dev_data.fewrel_rows, root),
        "What is this sentence about?": stsb,
    }


def _heldout_corpora(root: Path) -> dict[str, Reader]:
    spec = heldout_wordings()
    corpora = {
        wording: _texts(COLLECTIONS[collection][0], root)
        for collection, variants in spec["triplets"].items()
        for aspects in variants.values()
        for _, wording in aspects.values()
    }
    clustering = {
        "EmotionClusteringHeldOutImplicit": _texts(dev_data.emotion_rows, root, "train"),
        "TweetSentimentClusteringHeldOutEitherOr": _texts(dev_data.tweeteval_rows, root, "sentiment", "val"),
        "TweetIronyClusteringHeldOutYesNo": _texts(dev_data.tweeteval_rows, root, "irony", "train"),
    }
    for name, item in spec["clustering"].items():
        corpora[item["instruction"]] = clustering[name]
    return corpora


def _tasks(suite: str, root: Path) -> list:
    return dev_tasks(root) if _check(suite) == "dev" else heldout_tasks(root)


def suite_test_texts(data: str | Path | None = None, suite: str = "dev") -> set[str]:
    """Every text the suite's tasks embed when they are evaluated (all subsets, all columns)."""
    texts: set[str] = set()
    for task in _tasks(suite, dev_data.data_root(data)):
        task.load_data()
        for splits in task.splits_by_subset().values():
            for dataset in splits.values():
                for column in dataset.column_names:
                    for value in dataset[column]:
                        texts.update(value if isinstance(value, list) else [value] if isinstance(value, str) else [])
    return texts


def head_corpora(data: str | Path | None = None, suite: str = "dev") -> dict[str, list[str]]:
    """{instruction: distinct texts to fit its head on}, in a stable order, none of them a test text of the
    suite."""
    root = dev_data.data_root(data)
    readers = {"dev": _dev_corpora, "heldout": _heldout_corpora}[_check(suite)](root)
    tested = suite_test_texts(root, suite)
    return {
        instruction: [text for text in dict.fromkeys(read()) if text.strip() and text not in tested]
        for instruction, read in readers.items()
    }


def suite_instructions(data: str | Path | None = None, suite: str = "dev") -> dict[str, list[str]]:
    """{instruction: the tasks (task/subset) of the suite that ask it}."""
    asked: dict[str, list[str]] = {}
    for task in _tasks(suite, dev_data.data_root(data)):
        for subset in task.metadata.hf_subsets or ["default"]:
            asked.setdefault(task.instruction_for(subset), []).append(f"{task.metadata.name}/{subset}")
    return asked


def _check(suite: str) -> str:
    if suite not in SUITES:
        raise ValueError(f"Unknown suite {suite!r}; heads can be fitted for {list(SUITES)}.")
    return suite


__all__ = ["SUITES", "head_corpora", "suite_instructions", "suite_test_texts"]
