"""The held-out-wording split: dev collections asked the way users ask, with wordings no training data used.

Triplets: the three dual-aspect collections of the dev suite, each under two held-out wordings per aspect
(an implicit question for the topical aspect with a yes/no question for the sentiment, and an either/or
question for both), 100 triplets per aspect. An either/or wording whose options group the labels ("a camera,
a phone, a music player or something else?" over 14 products) is scored on the answer it asks for (the
"answers" of ``heldout_wordings.json``): the positive gives the anchor's answer, the negative another one.
Clustering: validation splits only (checkpoints are picked on this split, so it never reads a test split):
dair-ai emotion under an implicit question, TweetEval sentiment (a whole dataset kept out of training) under an
either/or question, TweetEval irony (an aspect kept out of training) under a yes/no question. The wordings are
data: ``heldout_wordings.json``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache, partial
from pathlib import Path

from mteb.abstasks.abstask import AbsTask

from mteb_tasks import dev_data
from mteb_tasks.factories import Aspect, dual_aspect_triplet_task, instruction_clustering_task
from mteb_tasks.tables import fingerprint

WORDINGS_FILE = Path(__file__).with_name("heldout_wordings.json")
N_TRIPLETS = 100

# collection -> (rows reader, the files it reads, description)
COLLECTIONS = {
    "SentimentLabelledSentences": (dev_data.sls_rows, dev_data.SLS_FILES, "Sentiment Labelled Sentences"),
    "LaptopACOS": (dev_data.acos_laptop_rows, dev_data.ACOS_FILES, "Laptop-ACOS review sentences"),
    "HuLiuReviews": (dev_data.hu_liu_rows, dev_data.HU_LIU_FILES, "Hu & Liu product review sentences"),
}


@cache
def heldout_wordings() -> dict:
    return json.loads(WORDINGS_FILE.read_text(encoding="utf-8"))


def all_heldout_instructions() -> list[str]:
    """Every held-out wording (training data must use none of them)."""
    spec = heldout_wordings()
    triplets = [wording for variants in spec["triplets"].values() for aspects in variants.values()
                for _, wording in aspects.values()]  # fmt: skip
    return triplets + [item["instruction"] for item in spec["clustering"].values()]


def answer_groups(wording: str) -> dict | None:
    """How a wording's answers group the labels (``heldout_wordings.json`` "answers"), or None: one answer per label."""
    return heldout_wordings().get("answers", {}).get(wording)


def _triplet_task(collection: str, variant: str, root: Path) -> AbsTask:
    reader, files, description = COLLECTIONS[collection]
    aspects = heldout_wordings()["triplets"][collection][variant]
    asked = {name: Aspect(name, wording, answer_groups(wording)) for name, (_, wording) in aspects.items()}
    groups = [aspect.answers for aspect in asked.values() if aspect.answers]
    return dual_aspect_triplet_task(
        f"{collection}TripletsHeldOut{variant}",
        partial(reader, root),
        aspects=asked,
        n_triplets=N_TRIPLETS,
        revision=fingerprint(
            *(root / f for f in files), N_TRIPLETS, dev_data.READERS_VERSION, sorted(aspects.items()), *groups
        ),
        description=f"{description}: dual-aspect triplets under held-out wordings "
        + ", ".join(f"{name}: {style}" for name, (style, _) in aspects.items()) + ".",
        reference="https://github.com/inbedder-st",
        domains=["Reviews", "Written"],
        license="not specified",
    )


def _clustering(name: str, reader: Callable, files: tuple[str, ...], label_column: str, per_label: int, root: Path):
    instruction = heldout_wordings()["clustering"][name]["instruction"]
    return instruction_clustering_task(
        name,
        partial(reader, root),
        label_column=label_column,
        instruction=instruction,
        per_label=per_label,
        revision=fingerprint(*(root / f for f in files), per_label, dev_data.READERS_VERSION, instruction),
        description=f"Held-out wording {instruction!r}; {label_column} clusters of {files[0]} (validation split).",
        reference="https://github.com/inbedder-st",
        domains=["Social", "Written"],
        license="not specified",
    )


def _clustering_tasks() -> dict[str, Callable[[Path], AbsTask]]:
    tweets = dev_data.TWEETEVAL
    return {
        "EmotionClusteringHeldOutImplicit": lambda root: _clustering(
            "EmotionClusteringHeldOutImplicit", partial(dev_data.emotion_rows, split="validation"),
            ("emotion/validation.jsonl",), "emotion", 100, root),
        "TweetSentimentClusteringHeldOutEitherOr": lambda root: _clustering(
            "TweetSentimentClusteringHeldOutEitherOr", partial(dev_data.tweeteval_rows, subset="sentiment"),
            (f"{tweets}/sentiment/val_text.txt", f"{tweets}/sentiment/val_labels.txt"), "label", 150, root),
        "TweetIronyClusteringHeldOutYesNo": lambda root: _clustering(
            "TweetIronyClusteringHeldOutYesNo", partial(dev_data.tweeteval_rows, subset="irony"),
            (f"{tweets}/irony/val_text.txt", f"{tweets}/irony/val_labels.txt"), "label", 200, root),
    }  # fmt: skip


HELDOUT_TASKS: dict[str, Callable[[Path], AbsTask]] = {
    **{
        f"{collection}TripletsHeldOut{variant}": partial(_triplet_task, collection, variant)
        for collection in COLLECTIONS
        for variant in heldout_wordings()["triplets"][collection]
    },
    **_clustering_tasks(),
}


def heldout_tasks(data: str | Path | None = None, names: list[str] | None = None) -> list[AbsTask]:
    """The held-out-wording split (or the named tasks of it) over the shared data folder."""
    unknown = sorted(set(names or ()) - set(HELDOUT_TASKS))
    if unknown:
        raise KeyError(f"Unknown held-out task(s) {unknown}. Valid choices: {list(HELDOUT_TASKS)}.")
    root = dev_data.data_root(data)
    return [build(root) for name, build in HELDOUT_TASKS.items() if names is None or name in names]
