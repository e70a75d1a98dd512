"""``apply_heads``: instruction embeddings from base embeddings already computed (e.g. read from a vector
store), one matrix product per linear head and no text read again.

The base embeddings must be what the head's base model outputs (all-MiniLM-L6-v2 ends with Normalize, so its
vectors are unit length); the result equals ``head_model.encode(texts)`` up to float rounding.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np

from inbedder_st.heads.model import HeadInfo, head_info, head_layers, read_head_layers


def apply_heads(base_embeddings, heads, *, batch_size: int = 65536) -> dict[str, np.ndarray]:
    """``heads``: one head (a model from ``fit_head``/``load_head``, a saved head folder, or the
    ``(HeadInfo, layers)`` pair ``read_head_layers`` returns), an iterable of
    them (the result is keyed by each head's instruction) or a mapping name -> head (keyed by name).
    Returns float32 unit-length rows, one array per head. ``batch_size`` rows are multiplied at a time."""
    x = np.asarray(base_embeddings, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(f"base_embeddings must be a 2-D array (texts x dimensions), got shape {x.shape}.")
    named = named_heads(heads)
    for name, (info, _) in named.items():  # check every head before computing anything
        if x.shape[1] != info.base_dim:
            raise ValueError(
                f"Head {name!r} sits on {info.base} ({info.base_dim} dimensions); the base embeddings given have "
                f"{x.shape[1]}. Embed the texts with {info.base}, the base model the head was fitted on."
            )
    return {name: _apply(layers, x, batch_size) for name, (info, layers) in named.items()}


def _apply(layers, x: np.ndarray, batch_size: int) -> np.ndarray:
    import torch

    weights = [(torch.from_numpy(np.ascontiguousarray(l.weight.T, dtype=np.float32)),
                torch.from_numpy(np.asarray(l.bias, dtype=np.float32)), l.activation) for l in layers]  # fmt: skip
    out = np.empty((len(x), layers[-1].weight.shape[0] if layers else x.shape[1]), dtype=np.float32)
    with torch.inference_mode():
        for start in range(0, len(x), batch_size):
            h = torch.from_numpy(x[start : start + batch_size])
            for weight, bias, activation in weights:
                h = torch.addmm(bias, h, weight)
                if activation == "gelu":
                    h = torch.nn.functional.gelu(h)
            out[start : start + len(h)] = torch.nn.functional.normalize(h, dim=1).numpy()
    return out


def named_heads(heads) -> dict:
    """{name: (HeadInfo, layers)}."""
    if isinstance(heads, Mapping):
        return {str(name): _layers(head) for name, head in heads.items()}
    if isinstance(heads, (str, Path)) or hasattr(heads, "head_info"):
        heads = [heads]
    if not isinstance(heads, Iterable):
        raise TypeError(f"heads must be a head model, a head folder, or a list or dict of them; got {type(heads).__name__}.")
    named: dict = {}
    for head in heads:
        info, layers = _layers(head)
        if info.instruction in named:
            where = f" ({head} is one)" if isinstance(head, (str, Path)) else ""
            raise ValueError(f"Two heads answer the same instruction {info.instruction!r}{where}; pass a dict to name them.")
        named[info.instruction] = (info, layers)
    return named


def _layers(head):
    if isinstance(head, tuple) and len(head) == 2 and isinstance(head[0], HeadInfo):
        return head  # (HeadInfo, layers), e.g. from read_head_layers
    if isinstance(head, (str, Path)):
        return read_head_layers(head)
    if isinstance(getattr(head, "head_info", None), HeadInfo):
        return head_info(head), head_layers(head)
    raise TypeError(f"Not an instruction head: {type(head).__name__} (fit one with fit_head or load_head(folder)).")
