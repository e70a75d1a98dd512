"""The teacher's generated answers -> labels for a label-guided head.

Answers are short ("furious", "card delivery"): they are compared after lower-casing and dropping punctuation
and stopwords, and answers given for fewer than ``min_group`` texts are left out (a group of one text says
nothing about which texts belong together). An instruction whose answers form fewer than two groups cannot
guide a head: that is an error, not a silently useless head.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

WORD = re.compile(r"[\w'-]+")


@dataclass
class AnswerGroups:
    labels: list[str | None]  # per text: its group, or None when its answer is too rare to form one
    groups: dict[str, int]  # group -> number of texts, largest first

    @property
    def labelled(self) -> list[int]:
        return [i for i, label in enumerate(self.labels) if label is not None]


def normalize_answer(answer: str, stopwords: frozenset[str] = frozenset()) -> str:
    words = [word.strip("'-") for word in WORD.findall(answer.lower())]
    kept = [word for word in words if word and word not in stopwords]
    return " ".join(kept or [word for word in words if word])


def group_answers(answers: list[str], *, min_group: int = 3, prompt: str = "") -> AnswerGroups:
    """Group texts whose normalised answers are equal; groups smaller than ``min_group`` are dropped."""
    from inbedder_st.stopwords import english_stopwords

    stopwords = frozenset(english_stopwords())
    keys = [normalize_answer(answer, stopwords) for answer in answers]
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
