"""Agreement of a clustering with gold labels: per-cluster purity and the clustering's V-measure."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass
class LabelScores:
    v_measure: float
    homogeneity: float
    completeness: float
    purity: float  # share of texts whose cluster's majority label is their own label
    n_classes: int


def check_labels(labels, n_texts: int) -> dict[str, list[str]]:
    """``labels`` as {name: one label per text}: a sequence becomes {"label": ...}; lengths must match."""
    if labels is None:
        return {}
    named = dict(labels) if isinstance(labels, Mapping) else {"label": labels}
    checked = {}
    for name, values in named.items():
        if isinstance(values, (str, bytes)) or not isinstance(values, (Sequence, np.ndarray)):
            raise TypeError(f"labels {name!r} must be a sequence with one label per text, got {type(values).__name__}.")
        if len(values) != n_texts:
            raise ValueError(f"labels {name!r} has {len(values)} labels for {n_texts} texts; give one label per text.")
        checked[str(name)] = [str(v) for v in values]
    return checked


def label_scores(assignment: Sequence[int], labels: Sequence[str]) -> LabelScores:
    from sklearn.metrics import homogeneity_completeness_v_measure

    homogeneity, completeness, v_measure = homogeneity_completeness_v_measure(labels, assignment)
    majority = sum(counts.most_common(1)[0][1] for counts in label_counts(assignment, labels).values())
    return LabelScores(
        v_measure=float(v_measure),
        homogeneity=float(homogeneity),
        completeness=float(completeness),
        purity=majority / len(labels),
        n_classes=len(set(labels)),
    )


def label_counts(assignment: Sequence[int], labels: Sequence[str]) -> dict[int, Counter]:
    """{cluster: Counter of gold labels}."""
    counts: dict[int, Counter] = {}
    for cluster, label in zip(assignment, labels):
        counts.setdefault(int(cluster), Counter())[label] += 1
    return counts
