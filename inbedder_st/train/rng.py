"""Every random number generator a training step uses (Python, NumPy, torch CPU and CUDA), saved and restored,
so that a resumed run draws the same dropout masks as an uninterrupted one."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import torch


def capture() -> dict:
    kind, keys, position, has_gauss, cached = np.random.get_state()
    state = {
        "python": random.getstate(),
        "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), position, has_gauss, cached],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore(state: dict) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, position, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), position, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save(path: Path) -> None:
    torch.save(capture(), path)


def load(path: Path) -> None:
    restore(torch.load(path, weights_only=True))
