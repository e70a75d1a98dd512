"""What the benchmark scripts share: timing a run and how close two runs' embeddings are (imported by the
scripts beside it)."""

import time

import numpy as np


def timed(run, warm_up=None) -> tuple[float, object]:
    """(seconds, result) of ``run()``, after an untimed ``warm_up()`` when one is given."""
    if warm_up is not None:
        warm_up()
    start = time.perf_counter()
    result = run()
    return time.perf_counter() - start, result


def min_cosine(x, y) -> float:
    """The lowest row-wise cosine between two embedding matrices (float64, so rounding does not hide a gap)."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    return float(((x * y).sum(-1) / np.linalg.norm(x, axis=-1) / np.linalg.norm(y, axis=-1)).min())
