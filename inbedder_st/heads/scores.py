"""Fit scores a head carries in its config and card, measured on texts of the sample it was not fitted on.

``teacher_agreement``: the head is refitted on 80% of the sample; on the other 20%, how well do cosine
similarities between texts agree with the teacher's (Spearman over all pairs), for the head and, as the
reference, for the base model alone? A head is worth having when it moves the first well above the second.
"""

from __future__ import annotations

import numpy as np

HELD_OUT = 0.2


def pair_cosines(embeddings: np.ndarray) -> np.ndarray:
    """Cosine of every pair i < j."""
    e = np.asarray(embeddings, dtype=np.float64)
    e = e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-12)
    upper = np.triu_indices(len(e), k=1)
    return (e @ e.T)[upper]


def similarity_agreement(embeddings: np.ndarray, teacher: np.ndarray) -> float:
    """Spearman correlation between the pairwise cosines of ``embeddings`` and of ``teacher``."""
    from scipy.stats import spearmanr

    return float(spearmanr(pair_cosines(embeddings), pair_cosines(teacher)).statistic)


def teacher_agreement(x: np.ndarray, targets: np.ndarray, *, kind: str, seed: int = 0) -> dict[str, float]:
    from inbedder_st.heads.fit import fit_layers
    from inbedder_st.heads.solve import forward

    order = np.random.default_rng(seed + 1).permutation(len(x))
    held = order[: max(2, int(len(x) * HELD_OUT))]
    train = order[len(held) :]
    layers, _ = fit_layers(x[train], targets[train], kind=kind, seed=seed)
    return {
        "held_out_agreement_base": similarity_agreement(x[held], targets[held]),
        "held_out_agreement_head": similarity_agreement(forward(layers, x[held]), targets[held]),
    }
