"""The 2-D picture: PCA of the clustered embeddings, coloured by cluster, labelled with its keywords."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np

from inbedder_st.explain.cluster import ExplainedClustering

MARKERS = "o^sDvP*X"  # one per gold label when the first label set has few classes


def pca_2d(embeddings: np.ndarray) -> np.ndarray:
    """The first two principal components (signs fixed so the picture does not flip between runs)."""
    centred = embeddings.astype(np.float64) - embeddings.mean(axis=0)
    if len(centred) < 2:
        return np.zeros((len(centred), 2))
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    axes = vt[:2]
    axes *= np.sign(axes[np.arange(len(axes)), np.abs(axes).argmax(axis=1)])[:, None]
    coords = centred @ axes.T
    return np.pad(coords, ((0, 0), (0, 2 - coords.shape[1])))


def plot_clusters(result: ExplainedClustering, path: str | Path, n_keywords: int = 3) -> Path:
    # A bare Figure renders with Agg when saved: no pyplot, no display, no global backend switch.
    from matplotlib import colormaps
    from matplotlib.figure import Figure

    coords = pca_2d(result.embeddings)
    assignment = np.asarray(result.assignment)
    colours = colormaps["tab10" if result.n_clusters <= 10 else "tab20"]
    marker_set = next(iter(result.gold_labels), None)
    marker_labels = sorted(set(result.gold_labels[marker_set])) if marker_set else []
    if len(marker_labels) > len(MARKERS):
        marker_set, marker_labels = None, []

    fig = Figure(figsize=(10, 7.5), dpi=120)
    ax = fig.add_subplot()
    size = 18 if len(coords) > 500 else 36
    for c in result.clusters:
        colour = colours(c.cluster % colours.N)
        words = ", ".join(k.word for k in c.keywords[:n_keywords]) or "(no keywords)"
        members = assignment == c.cluster
        if not members.any():
            continue
        if marker_labels:
            gold = np.asarray(result.gold_labels[marker_set])
            for label, marker in zip(marker_labels, MARKERS):
                chosen = members & (gold == label)
                ax.scatter(*coords[chosen].T, s=size, color=colour, marker=marker, alpha=0.55, linewidths=0)
        else:
            ax.scatter(*coords[members].T, s=size, color=colour, alpha=0.55, linewidths=0)
        ax.scatter([], [], color=colour, s=40, label=f"{c.cluster} (n={c.size}): {words}")
        centre = coords[members].mean(axis=0)
        ax.annotate(
            "\n".join(textwrap.wrap(words, 28)), centre, ha="center", va="center", fontsize=10, weight="bold",
            bbox=dict(boxstyle="round,pad=0.3", facecolor="white", edgecolor=colour, linewidth=2, alpha=0.85),
        )  # fmt: skip
    legends = [ax.legend(title="cluster (size): top keywords", loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9)]
    if marker_labels:
        ax.add_artist(legends[0])  # a second ax.legend() call would replace the first
        handles = [ax.scatter([], [], color="grey", marker=m, s=40, label=str(label)) for label, m in zip(marker_labels, MARKERS)]
        legends.append(ax.legend(handles=handles, title=f"gold {marker_set}", loc="lower left", bbox_to_anchor=(1.01, 0.0), fontsize=9))
    title = textwrap.fill(f"Clusters under the instruction “{result.instruction}”", 70)
    subtitle = textwrap.fill(f"{len(result.texts)} texts, K={result.n_clusters}; model {result.model_name}", 90)
    ax.set_title(f"{title}\n{subtitle}", fontsize=11)
    ax.set_xlabel("PC 1 of the embeddings")
    ax.set_ylabel("PC 2")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, bbox_inches="tight", bbox_extra_artists=legends)  # keep the legends outside the axes
    return path
