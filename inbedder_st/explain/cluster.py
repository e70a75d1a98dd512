"""``cluster``: group texts by their answers to an instruction, and explain each group.

Texts are embedded under the instruction and clustered with KMeans (the paper's propose.py: n_init=10);
each cluster is explained by keywords mined from its generated answers, by the LM-head contrast tokens
of its mean embedding, and (with gold labels) by its label make-up.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from inbedder_st.explain.contrast import contrast_tokens
from inbedder_st.explain.keywords import Keyword, cluster_keywords, top_answers
from inbedder_st.explain.scores import LabelScores, check_labels, label_counts, label_scores
from inbedder_st.explain.states import answers_and_embeddings, inbedder_of
from inbedder_st.inputs import check_texts


@dataclass
class ClusterSummary:
    cluster: int  # 0 is the largest cluster
    size: int
    keywords: list[Keyword]
    contrast_tokens: list[str]
    top_answers: list[tuple[str, int]]  # most frequent answers with counts
    nearest: list[int]  # indices of the texts nearest the centroid, nearest first
    nearest_texts: list[str]
    labels: dict[str, dict[str, int]] = field(default_factory=dict)  # {label set: {label: count}}, most common first
    purity: dict[str, float] = field(default_factory=dict)  # {label set: majority share}


@dataclass
class ExplainedClustering:
    instruction: str
    n_clusters: int
    seed: int
    model_name: str
    texts: list[str]
    answers: list[str]
    assignment: list[int]
    clusters: list[ClusterSummary]
    scores: dict[str, LabelScores]  # per label set
    gold_labels: dict[str, list[str]]
    embeddings: np.ndarray = field(repr=False)  # [N, dim], the vectors that were clustered

    @property
    def sizes(self) -> list[int]:
        return [c.size for c in self.clusters]


def kmeans(embeddings: np.ndarray, n_clusters: int, seed: int = 0) -> np.ndarray:
    """KMeans labels renumbered by decreasing cluster size (ties: the cluster holding the earlier text first)."""
    from sklearn.cluster import KMeans

    raw = KMeans(n_clusters=n_clusters, n_init=10, random_state=seed).fit_predict(embeddings.astype(np.float64))
    sizes = np.bincount(raw, minlength=n_clusters)
    first_member = [int(np.flatnonzero(raw == k)[0]) if sizes[k] else len(raw) for k in range(n_clusters)]
    order = sorted(range(n_clusters), key=lambda k: (-sizes[k], first_member[k]))
    renumber = np.empty(n_clusters, dtype=int)
    renumber[order] = np.arange(n_clusters)
    return renumber[raw]


def nearest_to_centroid(embeddings: np.ndarray, members: np.ndarray, top: int) -> list[int]:
    centroid = embeddings[members].mean(axis=0)
    distances = np.linalg.norm(embeddings[members] - centroid, axis=1)
    return [int(members[i]) for i in np.argsort(distances, kind="stable")[:top]]


def check_n_clusters(n_clusters, n_texts: int) -> int:
    if isinstance(n_clusters, bool) or not isinstance(n_clusters, (int, np.integer)):
        raise TypeError(f"n_clusters must be an integer, got {n_clusters!r}.")
    if not 1 <= n_clusters <= n_texts:
        raise ValueError(f"n_clusters={n_clusters} must be between 1 and the number of texts ({n_texts}).")
    return int(n_clusters)


def cluster(
    model,
    texts: list[str],
    prompt: str | None,
    n_clusters: int,
    labels=None,
    seed: int = 0,
    *,
    top_keywords: int = 10,
    top_texts: int = 5,
    batch_size: int = 32,
    show_progress_bar: bool = True,
) -> ExplainedClustering:
    """Cluster ``texts`` under the instruction ``prompt`` and explain every cluster.

    ``labels``: optional gold labels, one per text, or ``{name: labels}`` for several label sets; each
    gets per-cluster purity and the clustering's V-measure. ``seed`` seeds KMeans (the answers are greedy
    unless the model samples, and then seeded per text), so the same inputs give the same result.
    Clusters are numbered by decreasing size.
    """
    texts = check_texts(texts)
    if not texts:
        raise ValueError("texts is empty: give at least one text to cluster.")
    n_clusters = check_n_clusters(n_clusters, len(texts))
    gold = check_labels(labels, len(texts))
    module = inbedder_of(model)
    instruction = module.instruction_for(prompt)

    answers, embeddings = answers_and_embeddings(model, texts, instruction, batch_size, show_progress_bar)
    assignment = kmeans(embeddings, n_clusters, seed)
    keywords = cluster_keywords(answers, assignment, n_clusters, top_keywords)
    contrasts = contrast_tokens(module, embeddings, assignment, n_clusters, top_keywords)
    counts = {name: label_counts(assignment, values) for name, values in gold.items()}

    summaries = []
    for k in range(n_clusters):
        members = np.flatnonzero(assignment == k)  # empty only when there are fewer distinct texts than clusters
        nearest = nearest_to_centroid(embeddings, members, top_texts) if len(members) else []
        made_up = {name: c.get(k, Counter()) for name, c in counts.items()}
        summaries.append(
            ClusterSummary(
                cluster=k,
                size=len(members),
                keywords=keywords[k],
                contrast_tokens=contrasts[k],
                top_answers=top_answers(answers, members),
                nearest=nearest,
                nearest_texts=[texts[i] for i in nearest],
                labels={name: dict(c.most_common()) for name, c in made_up.items()},
                purity={name: c.most_common(1)[0][1] / len(members) for name, c in made_up.items() if c},
            )
        )
    return ExplainedClustering(
        instruction=instruction,
        n_clusters=n_clusters,
        seed=seed,
        model_name=module.backbone or type(module.model).__name__,
        texts=texts,
        answers=answers,
        assignment=assignment.tolist(),
        clusters=summaries,
        scores={name: label_scores(assignment, values) for name, values in gold.items()},
        gold_labels=gold,
        embeddings=embeddings,
    )
