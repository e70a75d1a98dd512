"""Throughput options: a half-precision backbone stays close to fp32; options are applied in place."""

import copy

import numpy as np
import pytest
import torch

from inbedder_st import speed
from inbedder_st.backbones.causal import _decoder_layers

TEXTS = ["I'm furious, you charged me twice!", "Thanks, my refund arrived.", "My new card never came."]
PROMPT = "How does the customer feel?"


@pytest.fixture(scope="module")
def copy_of_default(default_model):
    return copy.deepcopy(default_model)  # the session model stays fp32


def test_bfloat16_stays_close_to_float32_and_returns_float32(default_model, copy_of_default):
    reference = default_model.encode(TEXTS, prompt=PROMPT)
    model = speed.apply(copy_of_default, dtype="bfloat16")
    assert next(model[0].model.parameters()).dtype == torch.bfloat16
    fast = model.encode(TEXTS, prompt=PROMPT)
    assert fast.dtype == np.float32
    cos = (fast * reference).sum(1) / np.linalg.norm(fast, axis=1) / np.linalg.norm(reference, axis=1)
    assert cos.min() >= 0.99


def test_compile_wraps_each_decoder_layer(copy_of_default):
    speed.apply(copy_of_default, compile=True)  # compiles lazily, on the first call; not run here
    layers = _decoder_layers(copy_of_default[0].model)
    assert all(layer._compiled_call_impl is not None for layer in layers)


def test_unknown_dtype():
    with pytest.raises(ValueError, match="Unknown dtype 'int4'"):
        speed.resolve_dtype("int4")


def test_compile_refuses_other_families(tmp_path):
    import inbedder_st
    from tiny_models import build_t5

    model = inbedder_st.load_model(str(build_t5(tmp_path / "t5")))
    with pytest.raises(ValueError, match="causal backbones only.*'seq2seq'"):
        speed.apply(model, compile=True)
