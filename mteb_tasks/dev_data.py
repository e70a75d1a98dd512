"""Readers for the real offline data in ``../shared/data`` (see its DATA.md): files -> rows of dicts.

Each reader takes the data folder and returns plain rows for the factories; nothing is copied into the
repository. ``data_root()`` finds the folder: an explicit path, ``$INBEDDER_DATA``, or ``../shared/data``
beside the repository.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import zipfile
from collections import Counter
from pathlib import Path
from typing import Any

DATA_ENV = "INBEDDER_DATA"
# Part of every dev task's dataset revision: bump it when a reader changes which rows it returns.
READERS_VERSION = 2
Row = dict[str, Any]


def data_root(explicit: str | Path | None = None) -> Path:
    """The first one given of: ``explicit``, ``$INBEDDER_DATA``, ``../shared/data`` beside the repository."""
    given = explicit or os.environ.get(DATA_ENV)
    root = Path(given) if given else Path(__file__).resolve().parents[2] / "shared" / "data"
    if not root.is_dir():
        raise FileNotFoundError(
            f"The dev tasks read the shared data folder (../shared/data beside the repository); {root} is not a "
            f"folder. Pass its path (--data DIR) or set ${DATA_ENV}."
        )
    return root


# ----- dual aspect ---------------------------------------------------------------------------------
SLS_SOURCES = {"amazon_cells": "cell phone (Amazon)", "imdb": "movie (IMDb)", "yelp": "restaurant (Yelp)"}
SLS_FILES = tuple(f"dual_aspect/sls/sls_{name}.txt" for name in SLS_SOURCES)


def sls_rows(root: Path) -> list[Row]:
    """Sentiment Labelled Sentences: what is reviewed (source) x sentiment."""
    rows = []
    for name, source in SLS_SOURCES.items():
        for line in (root / f"dual_aspect/sls/sls_{name}.txt").read_text(encoding="utf-8").splitlines():
            text, _, label = line.rpartition("\t")
            if text.strip() and label.strip() in ("0", "1"):
                rows.append({"text": text.strip(), "source": source, "sentiment": ("negative", "positive")[int(label)]})
    return rows


ACOS_FILES = tuple(f"dual_aspect/acos_laptop/acos_laptop_{split}.tsv" for split in ("train", "dev", "test"))
ACOS_SENTIMENTS = {"0": "negative", "1": "neutral", "2": "positive"}


def acos_laptop_rows(root: Path, min_per_entity: int = 30) -> list[Row]:
    """Laptop-ACOS reviews whose opinions all concern one entity with one sentiment: entity x sentiment.
    Entities with fewer than ``min_per_entity`` such sentences (and Out_Of_Scope) are left out."""
    rows = []
    for file in ACOS_FILES:
        for line in (root / file).read_text(encoding="utf-8").splitlines():
            text, *quads = line.split("\t")
            labels = {(quad.split()[1].split("#")[0], quad.split()[2]) for quad in quads if len(quad.split()) >= 3}
            if len(labels) == 1:
                entity, sentiment = labels.pop()
                if entity != "Out_Of_Scope" and sentiment in ACOS_SENTIMENTS:
                    rows.append(
                        {"text": text.strip(), "entity": _readable(entity), "sentiment": ACOS_SENTIMENTS[sentiment]}
                    )
    counts = Counter(row["entity"] for row in rows)
    return [row for row in rows if counts[row["entity"]] >= min_per_entity]


HU_LIU_FILES = ("dual_aspect/hu_liu_reviews/product_reviews_1.zip", "dual_aspect/hu_liu_reviews/product_reviews_2.zip")
OPINION = re.compile(r"\[([+-])\d\]")


def hu_liu_rows(root: Path) -> list[Row]:
    """Hu & Liu product review sentences with a one-signed opinion: product (file) x polarity (sign)."""
    rows = []
    for file in HU_LIU_FILES:
        with zipfile.ZipFile(root / file) as archive:
            for member in sorted(archive.namelist()):
                if not member.endswith(".txt") or member.endswith("README.txt"):
                    continue
                product = _readable(Path(member).stem)
                for line in io.TextIOWrapper(archive.open(member), encoding="latin-1"):
                    if line.count("##") != 1:  # not a sentence line, or two merged by an annotation slip
                        continue
                    annotation, separator, text = line.partition("##")
                    signs = set(OPINION.findall(annotation))
                    if separator and text.strip() and len(signs) == 1:
                        polarity = "positive" if signs.pop() == "+" else "negative"
                        rows.append({"text": text.strip(), "product": product, "polarity": polarity})
    return rows


# ----- clustering ----------------------------------------------------------------------------------
def banking77_rows(root: Path, split: str = "test") -> list[Row]:
    with (root / f"banking77/{split}.csv").open(encoding="utf-8", newline="") as handle:
        return [{"text": row["text"], "intent": row["category"]} for row in csv.DictReader(handle)]


def emotion_rows(root: Path, split: str = "test") -> list[Row]:
    lines = (root / f"emotion/{split}.jsonl").read_text(encoding="utf-8").splitlines()
    return [{"text": item["text"], "emotion": item["label_text"]} for item in map(json.loads, lines)]


FEWREL_FILES = ("fewrel/val_wiki.json", "fewrel/pid2name.json")


def fewrel_rows(root: Path) -> list[Row]:
    """FewRel sentences with the entity pair appended after the sentence (the format the paper's FewRel
    clustering instruction refers to: "two specified entities appended after the sentence")."""
    relations = json.loads((root / "fewrel/pid2name.json").read_text(encoding="utf-8"))
    rows = []
    for pid, instances in json.loads((root / "fewrel/val_wiki.json").read_text(encoding="utf-8")).items():
        for item in instances:
            tokens = item["tokens"]
            head, tail = (" ".join(tokens[i] for i in item[key][2][0]) for key in ("h", "t"))
            rows.append({"text": f"{_detokenize(tokens)}\n{head} ; {tail}", "relation": relations[pid][0]})
    return rows


TWEETEVAL = "labeled/tweeteval"


def tweeteval_rows(root: Path, subset: str, split: str = "val") -> list[Row]:
    """A TweetEval subset (``{split}_text.txt`` + ``{split}_labels.txt``, ids named by ``mapping.txt``)."""
    folder = root / TWEETEVAL / subset
    names = dict(line.split("\t")[:2] for line in (folder / "mapping.txt").read_text(encoding="utf-8").splitlines() if line.strip())
    texts = (folder / f"{split}_text.txt").read_text(encoding="utf-8").splitlines()
    labels = (folder / f"{split}_labels.txt").read_text(encoding="utf-8").splitlines()
    if len(texts) != len(labels):
        raise ValueError(f"{folder}: {len(texts)} texts but {len(labels)} labels in the {split} split.")
    return [{"text": text.strip(), "label": names[label.strip()].replace("_", " ")} for text, label in zip(texts, labels)]


# ----- STS -----------------------------------------------------------------------------------------
def stsb_rows(root: Path, split: str = "test") -> list[Row]:
    """STS Benchmark pairs (gold 0-5). Fields: genre, file, year, id, score, sentence1, sentence2[, sources]."""
    rows = []
    for line in (root / f"stsb/sts-{split}.csv").read_text(encoding="utf-8").splitlines():
        fields = line.split("\t")
        if len(fields) >= 7:
            rows.append({"sentence1": fields[5], "sentence2": fields[6], "score": float(fields[4])})
    return rows


def _readable(label: str) -> str:
    return label.replace("_", " ").replace("&", " & ").lower()


def _detokenize(tokens: list[str]) -> str:
    text = " ".join(token for token in tokens if token.strip())
    return re.sub(r" ([.,;:!?%)'])", r"\1", text).replace("( ", "(")
