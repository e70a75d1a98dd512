"""Cluster keywords mined from the generated answers (the paper's analyze_propose_results.py, part a).

Each cluster's answers are joined into one document; a default ``TfidfVectorizer`` is fitted over the
cluster documents, and a word's score in a cluster is its tf-idf there minus its mean tf-idf over all
clusters. We keep only words that occur in the cluster's answers, best score first.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np


@dataclass
class Keyword:
    word: str
    score: float  # tf-idf in this cluster minus the mean over clusters
    answers: int  # how many of the cluster's answers contain the word


def cluster_keywords(answers: list[str], assignment: np.ndarray, n_clusters: int, top: int = 10) -> list[list[Keyword]]:
    """Per cluster (0..n_clusters-1), up to ``top`` keywords from its answers; [] for a cluster with no words."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    documents = [" ".join(a for a, c in zip(answers, assignment) if c == k) for k in range(n_clusters)]
    vectorizer = TfidfVectorizer()
    try:
        tfidf = vectorizer.fit_transform(documents).toarray()
    except ValueError:  # no cluster has a single word (every answer empty or one character)
        return [[] for _ in range(n_clusters)]
    words = vectorizer.get_feature_names_out()
    contrast = tfidf - tfidf.mean(axis=0, keepdims=True)
    analyze = vectorizer.build_analyzer()
    result = []
    for k in range(n_clusters):
        present = np.flatnonzero(tfidf[k] > 0)
        # best contrast first; ties by raw tf-idf, then alphabetically, so the order is deterministic
        ranked = sorted(present, key=lambda j: (-round(contrast[k, j], 12), -tfidf[k, j], words[j]))[:top]
        in_answers = Counter(w for a, c in zip(answers, assignment) if c == k for w in set(analyze(a)))
        result.append([Keyword(str(words[j]), float(contrast[k, j]), in_answers[words[j]]) for j in ranked])
    return result


def answer_words(answer: str) -> set[str]:
    """The words the keyword vectorizer sees in one answer (lower-cased, 2+ word characters)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    return set(TfidfVectorizer().build_analyzer()(answer))


def top_answers(answers: list[str], members: np.ndarray, top: int = 5) -> list[tuple[str, int]]:
    """The cluster's most frequent answers (case-folded), with counts."""
    counts = Counter(answers[i].strip().lower() for i in members)
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:top]
