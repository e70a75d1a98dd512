"""Seeded sampling for the factories: dual-aspect triplets and per-label caps.

Seeds are strings such as ``"42:sentiment"`` so that each aspect gets its own stable stream
(``random.Random`` hashes strings deterministically across runs and machines).
"""

from __future__ import annotations

import logging
import random
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

logger = logging.getLogger(__name__)


def unique_texts(rows: list[dict[str, Any]], text_column: str) -> list[dict[str, Any]]:
    """The first row of each distinct text (a text must not be its own positive or negative)."""
    seen: dict[str, dict[str, Any]] = {}
    for row in rows:
        seen.setdefault(str(row[text_column]), row)
    return list(seen.values())


def label_answers(labels: set[str], answers: Mapping[str, Any], where: str = "") -> dict[str, str]:
    """label -> the answer it gives, from ``answers``: answer -> the labels it covers, or "*" for every other one.

    For an instruction whose answers group the labels ("Is this about a camera, a phone or something else?"
    over product labels): texts are alike under it when their *answers* agree, so triplets must be drawn on
    the answer, not the label. Every label must get exactly one answer, and every listed label must exist.
    """
    out: dict[str, str] = {}
    rest = [answer for answer, covered in answers.items() if covered == "*"]
    if len(rest) > 1:
        raise ValueError(f"{where}: only one answer may cover the other labels ('*'), got {rest}.")
    for answer, covered in answers.items():
        if covered == "*":
            continue
        if isinstance(covered, str) or not all(isinstance(label, str) for label in covered):
            raise TypeError(f"{where}: answer {answer!r} must list labels (strings) or be '*', got {covered!r}.")
        for label in covered:
            if label in out:
                raise ValueError(f"{where}: label {label!r} is under two answers, {out[label]!r} and {answer!r}.")
            out[label] = answer
    unknown = sorted(set(out) - labels)
    if unknown:
        raise ValueError(f"{where}: labels {unknown} are not in the table (its labels: {sorted(labels)}).")
    uncovered = sorted(labels - set(out))
    if uncovered and not rest:
        raise ValueError(f"{where}: labels {uncovered} get no answer; list them or add an answer covering '*'.")
    return {label: out[label] if label in out else rest[0] for label in labels}


def dual_aspect_triplets(
    rows: list[dict[str, Any]],
    *,
    text_column: str,
    asked_column: str,
    other_column: str,
    n_triplets: int,
    seed: str,
    task_name: str = "",
    asked_answers: Mapping[str, Any] | None = None,
) -> list[dict[str, str]]:
    """IntentEmotion-style triplets for the aspect in ``asked_column``.

    The positive shares the anchor's asked label and differs on the other aspect; the negative differs on
    the asked label and shares the other. A model that follows the instruction must therefore look at the
    asked aspect only. Anchors are distinct rows; positives and negatives are drawn uniformly.
    ``asked_answers`` (see :func:`label_answers`) groups the asked labels into the answers the instruction
    asks for; the positive then shares the anchor's answer and the negative gives another one.
    """
    rows = unique_texts(rows, text_column)
    asked_of = str  # the asked label itself, or the answer it gives under a grouping instruction
    if asked_answers is not None:
        labels = {str(row[asked_column]) for row in rows}
        answer = label_answers(labels, asked_answers, f"Task {task_name!r}, {asked_column!r}")
        asked_of = answer.__getitem__
    by_labels: dict[tuple[str, str], list[str]] = defaultdict(list)
    for row in rows:
        by_labels[(asked_of(str(row[asked_column])), str(row[other_column]))].append(str(row[text_column]))

    def pool(asked: str, other: str, same_asked: bool) -> list[str]:
        return [
            text
            for (a, o), texts in by_labels.items()
            if (a == asked) == same_asked and (o == other) != same_asked
            for text in texts
        ]

    pools: dict[tuple[str, str], tuple[list[str], list[str]]] = {
        key: (pool(*key, same_asked=True), pool(*key, same_asked=False)) for key in by_labels
    }
    anchors = [row for row in rows if all(pools[(asked_of(str(row[asked_column])), str(row[other_column]))])]
    if not anchors:
        raise ValueError(
            f"Task {task_name!r}: no row of the table can anchor a triplet for {asked_column!r}: every anchor needs a "
            f"row with the same {asked_column!r} and another {other_column!r}, and one with another {asked_column!r} "
            f"and the same {other_column!r}."
        )
    rng = random.Random(seed)
    rng.shuffle(anchors)
    if len(anchors) < n_triplets:
        logger.warning(
            "Task %r: only %d anchors qualify for %r (asked for %d).", task_name, len(anchors), asked_column, n_triplets
        )
    triplets = []
    for row in anchors[:n_triplets]:
        positives, negatives = pools[(asked_of(str(row[asked_column])), str(row[other_column]))]
        triplets.append(
            {"anchor": str(row[text_column]), "positive": rng.choice(positives), "negative": rng.choice(negatives)}
        )
    return triplets


def cap_per_label(
    rows: list[dict[str, Any]], label_column: str, per_label: int | None, seed: str
) -> list[dict[str, Any]]:
    """At most ``per_label`` rows of each label, drawn at random; the table's order is kept."""
    if per_label is None:
        return rows
    rng = random.Random(seed)
    by_label: dict[str, list[int]] = defaultdict(list)
    for index, row in enumerate(rows):
        by_label[str(row[label_column])].append(index)
    keep = {
        i
        for indices in by_label.values()
        for i in (rng.sample(indices, per_label) if len(indices) > per_label else indices)
    }
    return [row for index, row in enumerate(rows) if index in keep]


def sample_rows(rows: list[dict[str, Any]], at_most: int | None, seed: str) -> list[dict[str, Any]]:
    if at_most is None or len(rows) <= at_most:
        return rows
    keep = set(random.Random(seed).sample(range(len(rows)), at_most))
    return [row for index, row in enumerate(rows) if index in keep]
