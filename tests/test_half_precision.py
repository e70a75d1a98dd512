"""Half precision on a CPU without half-precision units is emulated and many times slower: the package says so
wherever a user asks for it (load_model(dtype=...), speed.apply, training with bf16 autocast)."""

import logging

import pytest
import torch
from tiny_models import build_llama

import inbedder_st
from inbedder_st import dtypes, speed
from inbedder_st.train.loop import TrainConfig, train
from inbedder_st.train.records import QARecord

AVX2_ONLY = "processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu sse2 avx avx2 fma\n\nprocessor\t: 1\n"
SAPPHIRE_RAPIDS = "processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_bf16 avx512_fp16 amx_bf16 amx_tile\n"
ARM = "processor\t: 0\nFeatures\t: fp asimd asimdhp bf16\nCPU implementer\t: 0x41\n"


def cpuinfo(tmp_path, text):
    path = tmp_path / "cpuinfo"
    path.write_text(text)
    return path


def test_x86_flags_are_read_from_cpuinfo_and_other_cpus_give_none(tmp_path):
    assert dtypes.x86_cpu_flags(cpuinfo(tmp_path, AVX2_ONLY)) == {"fpu", "sse2", "avx", "avx2", "fma"}
    assert dtypes.x86_cpu_flags(cpuinfo(tmp_path, ARM)) is None
    assert dtypes.x86_cpu_flags(tmp_path / "missing") is None


@pytest.mark.parametrize("dtype", ["bfloat16", torch.bfloat16, "float16"])
def test_a_cpu_without_the_units_is_named_slow_for_half_precision(dtype):
    reason = dtypes.slow_half_precision(dtype, "cpu", flags={"avx2"})
    name = "bfloat16" if dtype != "float16" else "float16"
    assert reason.startswith(f"{name} on this CPU will be much slower than float32")
    assert " or ".join(dtypes.FAST_HALF_FLAGS[dtypes.DTYPES[name]]) in reason


def test_no_warning_where_half_precision_is_fast_or_not_asked_or_unknown():
    fast = {"avx2", "avx512_bf16", "avx512_fp16"}
    assert dtypes.slow_half_precision("bfloat16", "cpu", flags=fast) is None
    assert dtypes.slow_half_precision("float16", "cpu", flags={"avx2", "amx_fp16"}) is None
    assert dtypes.slow_half_precision("float16", "cpu", flags={"avx2", "avx512_bf16"}) is not None  # bf16 unit only
    assert dtypes.slow_half_precision("float32", "cpu", flags={"avx2"}) is None
    assert dtypes.slow_half_precision("auto", "cpu", flags={"avx2"}) is None  # a transformers name, left to it
    assert dtypes.slow_half_precision(None, "cpu", flags={"avx2"}) is None
    assert dtypes.slow_half_precision("bfloat16", "cuda", flags={"avx2"}) is None
    assert dtypes.slow_half_precision("bfloat16", torch.device("cuda", 0), flags={"avx2"}) is None


@pytest.fixture
def avx2_only(monkeypatch):
    """This machine, as far as the package can tell, is an AVX2-only x86 CPU."""
    monkeypatch.setattr(dtypes, "x86_cpu_flags", lambda: {"avx2"})


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory):
    return str(build_llama(tmp_path_factory.mktemp("llama")))


def test_load_model_and_speed_apply_warn_on_such_a_cpu(avx2_only, tiny_llama, caplog):
    with caplog.at_level(logging.WARNING, logger="inbedder_st.dtypes"):
        model = inbedder_st.load_model(tiny_llama, device="cpu", dtype="bfloat16")
    assert next(model[0].model.parameters()).dtype == torch.bfloat16
    assert caplog.text.count("bfloat16 on this CPU will be much slower") == 1
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="inbedder_st.dtypes"):
        speed.apply(inbedder_st.load_model(tiny_llama, device="cpu"), dtype="float16")
    assert caplog.text.count("float16 on this CPU will be much slower") == 1
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="inbedder_st.dtypes"):  # transformers' old name for dtype
        inbedder_st.load_model(tiny_llama, device="cpu", model_kwargs={"torch_dtype": "bfloat16"})
    assert caplog.text.count("bfloat16 on this CPU will be much slower") == 1


def test_no_warning_for_float32_or_a_cpu_with_the_units(monkeypatch, tiny_llama, caplog):
    monkeypatch.setattr(dtypes, "x86_cpu_flags", lambda: {"avx2", "amx_bf16", "avx512_bf16"})
    with caplog.at_level(logging.WARNING, logger="inbedder_st.dtypes"):
        inbedder_st.load_model(tiny_llama, device="cpu", dtype="bfloat16")
        inbedder_st.load_model(tiny_llama, device="cpu")
    assert "slower" not in caplog.text


def test_training_with_bf16_autocast_warns_on_such_a_cpu(avx2_only, tiny_llama, tmp_path, caplog):
    module = inbedder_st.load_model(tiny_llama, device="cpu")[0]
    records = [QARecord(input=f"The parcel number {i} arrived late.", instruction="When did it arrive?", output="late")
               for i in range(4)]  # fmt: skip
    config = TrainConfig(output_dir=str(tmp_path), max_steps=1, batch_size=4, grad_accum=1, eval_size=0, max_length=96,
                         bf16=True, save_steps=10, eval_steps=10)  # fmt: skip
    with caplog.at_level(logging.WARNING, logger="inbedder_st.dtypes"):
        train(module, records, config, show_progress_bar=False)
    assert caplog.text.count("bfloat16 on this CPU will be much slower") == 1
