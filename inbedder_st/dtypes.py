"""The backbone dtypes the package offers by name (``load_model(dtype=...)``, ``speed.apply``, ``hub.export``),
and a warning for half precision on a CPU that has no units for it."""

from __future__ import annotations

import logging
from pathlib import Path

import torch

logger = logging.getLogger(__name__)

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}

# x86 CPU flags (as Linux names them in /proc/cpuinfo) that make a half-precision matmul fast. Without them
# PyTorch emulates it: on an AVX2-only AMD EPYC (2 threads) a bf16 matmul of the default's size ran 124x slower
# than fp32, and a LoRA training step under bf16 autocast 10x slower (benchmarks/half_precision_cpu.py).
FAST_HALF_FLAGS = {
    torch.bfloat16: ("amx_bf16", "avx512_bf16"),
    torch.float16: ("amx_fp16", "avx512_fp16"),
}


def resolve_dtype(dtype: str | torch.dtype | None) -> torch.dtype | None:
    """A torch dtype for a name in ``DTYPES`` (a torch dtype or None passes through)."""
    if dtype is None or isinstance(dtype, torch.dtype):
        return dtype
    if dtype not in DTYPES:
        raise ValueError(f"Unknown dtype {dtype!r}. Valid choices: {list(DTYPES)}.")
    return DTYPES[dtype]


def x86_cpu_flags(cpuinfo: str | Path = "/proc/cpuinfo") -> set[str] | None:
    """The first x86 CPU's feature flags as Linux reports them; None where they cannot be read (another OS or
    architecture: ARM's /proc/cpuinfo has "Features", not "flags")."""
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return None
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if name.strip() == "flags":
            return set(value.split())
    return None


def slow_half_precision(dtype, device, flags: set[str] | None = None) -> str | None:
    """Why ``dtype`` on ``device`` will be slow (a sentence for a warning), or None.

    Only a CPU whose flags can be read and lack every unit of ``FAST_HALF_FLAGS[dtype]`` is named; a GPU, an
    fp32 dtype or an unknown CPU gives None. ``flags`` defaults to this machine's (``x86_cpu_flags()``).
    """
    dtype = DTYPES.get(dtype) if isinstance(dtype, str) else dtype  # "auto" and other transformers names: None
    if dtype not in FAST_HALF_FLAGS or torch.device(device).type != "cpu":
        return None
    flags = x86_cpu_flags() if flags is None else flags
    if flags is None or flags & set(FAST_HALF_FLAGS[dtype]):
        return None
    name, units = str(dtype).removeprefix("torch."), " or ".join(FAST_HALF_FLAGS[dtype])
    return (f"{name} on this CPU will be much slower than float32: it has no {units} unit, so PyTorch emulates "
            f"{name} matrix products (on an AVX2-only CPU a matmul ran 124x and a LoRA training step 10x slower "
            "than in float32). Use float32 on this machine.")


def warn_if_slow(dtype, device) -> None:
    """Log ``slow_half_precision``'s reason, if any, as a warning."""
    reason = slow_half_precision(dtype, device)
    if reason:
        logger.warning(reason)
