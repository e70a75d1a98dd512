"""What the benchmark scripts share: how close two runs' embeddings are (imported by the scripts beside it)."""

import numpy as np


def min_cosine(x, y) -> float:
    """The lowest row-wise cosine between two embedding matrices (float64, so rounding does not hide a gap)."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    return float(((x * y).sum(-1) / np.linalg.norm(x, axis=-1) / np.linalg.norm(y, axis=-1)).min())
