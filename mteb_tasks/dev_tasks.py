"""The offline dev suite: the factories applied to the real data in ``../shared/data``.

Sizes keep the whole suite at a few thousand embeddings (the default model embeds ~25 texts/s on a
2-core CPU): 200 triplets per aspect, <=10 texts per banking77 intent, <=100 per emotion, 40 per FewRel
relation, 500 STS-B pairs. Every sample is seeded; the dataset revision fingerprints files and sizes.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path

from mteb.abstasks.abstask import AbsTask

from mteb_tasks import dev_data
from mteb_tasks.factories import Aspect, dual_aspect_triplet_task, instruction_clustering_task, instruction_sts_task
from mteb_tasks.paper_tasks import PAPER_VARIANTS, FewRelClustering
from mteb_tasks.tables import fingerprint

N_TRIPLETS = 200
HOW_DOES_THE_REVIEWER_FEEL = "How does the reviewer feel?"


def sls_triplets(root: Path) -> AbsTask:
    return dual_aspect_triplet_task(
        "SentimentLabelledSentencesTriplets",
        partial(dev_data.sls_rows, root),
        aspects={
            "source": Aspect("source", "What is being reviewed?"),
            "sentiment": Aspect("sentiment", HOW_DOES_THE_REVIEWER_FEEL),
        },
        n_triplets=N_TRIPLETS,
        revision=fingerprint(*(root / f for f in dev_data.SLS_FILES), N_TRIPLETS, dev_data.READERS_VERSION),
        description="Sentiment Labelled Sentences (Kotzias et al., 2015): Amazon phone, IMDb and Yelp reviews; "
        "triplets on what is reviewed vs. sentiment.",
        reference="https://archive.ics.uci.edu/dataset/331/sentiment+labelled+sentences",
        domains=["Reviews", "Written"],
        license="not specified",
    )


def acos_triplets(root: Path) -> AbsTask:
    return dual_aspect_triplet_task(
        "LaptopACOSTriplets",
        partial(dev_data.acos_laptop_rows, root),
        aspects={
            "entity": Aspect("entity", "Which part of the laptop is discussed?"),
            "sentiment": Aspect("sentiment", HOW_DOES_THE_REVIEWER_FEEL),
        },
        n_triplets=N_TRIPLETS,
        revision=fingerprint(*(root / f for f in dev_data.ACOS_FILES), N_TRIPLETS, dev_data.READERS_VERSION),
        description="Laptop-ACOS review sentences with one (entity, sentiment) opinion; triplets on entity vs. sentiment.",
        reference="https://github.com/NUSTM/ACOS",
        domains=["Reviews", "Written"],
        license="not specified",
    )


def hu_liu_triplets(root: Path) -> AbsTask:
    return dual_aspect_triplet_task(
        "HuLiuReviewsTriplets",
        partial(dev_data.hu_liu_rows, root),
        aspects={
            "product": Aspect("product", "Which product is reviewed?"),
            "polarity": Aspect("polarity", HOW_DOES_THE_REVIEWER_FEEL),
        },
        n_triplets=N_TRIPLETS,
        revision=fingerprint(*(root / f for f in dev_data.HU_LIU_FILES), N_TRIPLETS, dev_data.READERS_VERSION),
        description="Hu & Liu (2004) product review sentences of 14 products; triplets on product vs. opinion polarity.",
        reference="https://www.cs.uic.edu/~liub/FBS/sentiment-analysis.html",
        domains=["Reviews", "Written"],
        license="cc-by-4.0",
    )


def banking77_clustering(root: Path) -> AbsTask:
    return instruction_clustering_task(
        "Banking77IntentClustering",
        partial(dev_data.banking77_rows, root),
        label_column="intent",
        instruction="What does the customer need?",
        per_label=10,
        revision=fingerprint(root / "banking77/test.csv", 10, dev_data.READERS_VERSION),
        description="banking77 test messages (10 per intent, 77 intents) clustered by intent.",
        reference="https://github.com/PolyAI-LDN/task-specific-datasets",
        domains=["Financial", "Written"],
        license="cc-by-4.0",
    )


def emotion_clustering(root: Path) -> AbsTask:
    return instruction_clustering_task(
        "EmotionClustering",
        partial(dev_data.emotion_rows, root),
        label_column="emotion",
        instruction="How does the writer feel?",
        per_label=100,
        revision=fingerprint(root / "emotion/test.jsonl", 100, dev_data.READERS_VERSION),
        description="dair-ai emotion test sentences (up to 100 per emotion, 6 emotions) clustered by emotion.",
        reference="https://github.com/dair-ai/emotion_dataset",
        domains=["Social", "Written"],
        license="not specified",
    )


def fewrel_clustering(root: Path) -> AbsTask:
    return instruction_clustering_task(
        "FewRelRelationClustering",
        partial(dev_data.fewrel_rows, root),
        label_column="relation",
        instruction=FewRelClustering.metadata.prompt,  # same format as the paper's, so its instructions apply
        instruction_variants=PAPER_VARIANTS["FewRelClustering"],
        per_label=40,
        revision=fingerprint(*(root / f for f in dev_data.FEWREL_FILES), 40, dev_data.READERS_VERSION),
        description="FewRel validation sentences (40 per relation, 16 relations) with the entity pair appended, "
        "clustered by relation.",
        reference="https://github.com/thunlp/FewRel",
        domains=["Encyclopaedic", "Written"],
        license="mit",
    )


def stsb_neutral(root: Path) -> AbsTask:
    return instruction_sts_task(
        "STSBNeutralInstruction",
        partial(dev_data.stsb_rows, root),
        instruction="What is this sentence about?",
        max_pairs=500,
        revision=fingerprint(root / "stsb/sts-test.csv", 500, dev_data.READERS_VERSION),
        description="STS Benchmark test pairs (500 sampled) under a neutral instruction: plain semantic similarity.",
        reference="https://ixa2.si.ehu.eus/stswiki/index.php/STSbenchmark",
        domains=["News", "Written"],
        license="cc-by-sa-4.0",
    )


DEV_TASKS: dict[str, Callable[[Path], AbsTask]] = {
    "SentimentLabelledSentencesTriplets": sls_triplets,
    "LaptopACOSTriplets": acos_triplets,
    "HuLiuReviewsTriplets": hu_liu_triplets,
    "Banking77IntentClustering": banking77_clustering,
    "EmotionClustering": emotion_clustering,
    "FewRelRelationClustering": fewrel_clustering,
    "STSBNeutralInstruction": stsb_neutral,
}


def dev_tasks(data: str | Path | None = None, names: list[str] | None = None) -> list[AbsTask]:
    """The dev suite (or the named dev tasks) over the shared data folder (see ``dev_data.data_root``)."""
    unknown = sorted(set(names or ()) - set(DEV_TASKS))
    if unknown:
        raise KeyError(f"Unknown dev task(s) {unknown}. Valid choices: {list(DEV_TASKS)}.")
    root = dev_data.data_root(data)
    return [build(root) for name, build in DEV_TASKS.items() if names is None or name in names]
