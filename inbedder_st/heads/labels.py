"""The teacher's generated answers -> labels for a label-guided head.

Answers are short ("furious", "card delivery") and many mean the same ("great", "good", "wonderful"). They are
compared after lower-casing and dropping punctuation and stopwords; with ``embed`` (a function from strings
to unit vectors, e.g. the base model), distinct answers whose meanings are close are merged (average-linkage
clustering of their embeddings, cosine distance below ``merge_distance``), so that the head is not taught to
separate synonyms. Groups of fewer than ``min_group`` texts are left out (they say little about which texts
belong together). An instruction whose answers form fewer than two groups cannot guide a head: that is an
error, not a silently useless head.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

WORD = re.compile(r"[\w'-]+")
# all-MiniLM-L6-v2 cosine distances: synonyms great/wonderful 0.15, awful/terrible 0.15, bad/terrible 0.21, but
# antonyms and sibling labels sit close too: positive/negative 0.29, good/bad 0.41, joy/anger 0.53. At 0.7 the
# new default's emotion answers (joy, sadness, anger, fear, ...) all merged into one group; 0.25 keeps them apart.
MERGE_DISTANCE = 0.25


@dataclass
class AnswerGroups:
    labels: list[str | None]  # per text: its group, or None when its group is too small
    groups: dict[str, int]  # group (its most frequent answer) -> number of texts, largest first

    @property
    def labelled(self) -> list[int]:
        return [i for i, label in enumerate(self.labels) if label is not None]


def normalize_answer(answer: str, stopwords: frozenset[str] = frozenset()) -> str:
    words = [word.strip("'-") for word in WORD.findall(answer.lower())]
    kept = [word for word in words if word and word not in stopwords]
    return " ".join(kept or [word for word in words if word])


def group_answers(
    answers: list[str],
    *,
    min_group: int = 3,
    prompt: str = "",
    embed: Callable[[list[str]], np.ndarray] | None = None,
    merge_distance: float = MERGE_DISTANCE,
) -> AnswerGroups:
    """Texts whose (normalised, and with ``embed`` merged by meaning) answers agree form a group."""
    from inbedder_st.stopwords import english_stopwords

    stopwords = frozenset(english_stopwords())
    keys = [normalize_answer(answer, stopwords) for answer in answers]
    counts = Counter(key for key in keys if key)
    if embed is not None and len(counts) > 1:
        keys = _merge_by_meaning(keys, counts, embed, merge_distance)
        counts = Counter(key for key in keys if key)
    kept = {key: n for key, n in counts.most_common() if n >= min_group}
    if len(kept) < 2:
        found = ", ".join(f"{key!r} x{n}" for key, n in counts.most_common(5)) or "no answer at all"
        raise ValueError(
            f"Instruction {prompt!r}: the teacher's answers on {len(answers)} texts form {len(kept)} group(s) of at "
            f"least {min_group} texts ({found}); a label-guided head needs at least two. Use objective='embedding', "
            "or a sample with more varied texts."
        )
    return AnswerGroups([key if key in kept else None for key in keys], kept)


def _merge_by_meaning(keys: list[str], counts: Counter, embed, merge_distance: float) -> list[str]:
    """Each answer -> the most frequent answer of its meaning cluster."""
    from sklearn.cluster import AgglomerativeClustering

    distinct = sorted(counts, key=lambda key: (-counts[key], key))
    vectors = np.asarray(embed(distinct), dtype=np.float64)
    clusters = AgglomerativeClustering(
        n_clusters=None, distance_threshold=merge_distance, metric="cosine", linkage="average"
    ).fit(vectors).labels_
    name: dict[int, str] = {}
    for key, cluster in zip(distinct, clusters):  # most frequent first: it names its cluster
        name.setdefault(int(cluster), key)
    merged = {key: name[int(cluster)] for key, cluster in zip(distinct, clusters)}
    return [merged.get(key, key) for key in keys]
