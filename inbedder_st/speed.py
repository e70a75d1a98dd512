"""Throughput options applied to a loaded InBedder: a half-precision dtype and torch.compile.

    model = inbedder_st.load_model()
    inbedder_st.speed.apply(model, dtype="bfloat16")      # and/or compile=True

``benchmarks/speed_options.py`` measures each option's speed, cosine to fp32 and dev-suite triplet accuracy;
the README gives the numbers. Options are offered only when they pass the bars (cosine >= 0.99 to fp32,
triplet accuracy within 1 point). Dynamic int8 quantisation of the Linear layers was measured and is not
offered: its embeddings reach only cos 0.87 to fp32, it lost 16 points of dev triplet accuracy, and its activation scales are computed per batch, so an
embedding would depend on the batch it is in (docs/design.md, "Padding never changes an embedding").
"""

from __future__ import annotations

import torch

from inbedder_st.dtypes import DTYPES, resolve_dtype, warn_if_slow  # noqa: F401  (re-exported: speed.DTYPES, speed.resolve_dtype)


def apply(model, *, dtype: str | torch.dtype | None = None, compile: bool = False):
    """Change ``model``'s backbone in place and return ``model``.

    - ``dtype``: cast the backbone's weights ("bfloat16", "float16"); embeddings are still returned as float32.
      On CPUs with AMX or AVX512-FP16 (Sapphire Rapids and later) both ran 1.9-2.9x faster than fp32 in our
      runs; on a CPU without them they are emulated, many times slower, and a warning says so.
    - ``compile``: ``torch.compile`` each decoder layer (dynamic shapes: prompt lengths vary by batch). Causal
      backbones only: that is the one measured.
    """
    module = model[0]
    if compile and getattr(module, "family", None) != "causal":
        raise ValueError(
            f"compile=True is measured and supported for causal backbones only; this model's first module is "
            f"{type(module).__name__} (family {getattr(module, 'family', None)!r})."
        )
    backbone = module.model
    if dtype is not None:
        backbone.to(resolve_dtype(dtype))
        warn_if_slow(dtype, next(backbone.parameters()).device)
    if compile:
        from inbedder_st.backbones.causal import _decoder_layers

        for layer in _decoder_layers(backbone):
            layer.compile(dynamic=True)
    return model
