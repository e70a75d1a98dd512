"""The backbone dtypes the package offers by name (``load_model(dtype=...)``, ``speed.apply``, ``hub.export``)."""

from __future__ import annotations

import torch

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def resolve_dtype(dtype: str | torch.dtype | None) -> torch.dtype | None:
    """A torch dtype for a name in ``DTYPES`` (a torch dtype or None passes through)."""
    if dtype is None or isinstance(dtype, torch.dtype):
        return dtype
    if dtype not in DTYPES:
        raise ValueError(f"Unknown dtype {dtype!r}. Valid choices: {list(DTYPES)}.")
    return DTYPES[dtype]
