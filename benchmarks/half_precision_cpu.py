"""Half precision on this CPU: bf16 and fp16 against fp32 for a matmul of the default's size and a training step.

Run from the repository root (about 5 minutes on a 2-core AVX2 CPU):

    python benchmarks/half_precision_cpu.py

Prints the CPU's half-precision units (``inbedder_st.dtypes.FAST_HALF_FLAGS``), what ``slow_half_precision``
says, the time of one ``[512 x 576] @ [576 x 1536]`` product (the default's MLP up-projection for 512 tokens) per
dtype, and the training tokens per second of ``inbedder_st.train.loop.train`` with and without ``bf16``
autocast (LoRA, two steps of 4 TweetQA records on the zero-shot default backbone). Ratios are to fp32 in the
same run. Encoding speed per dtype: ``benchmarks/speed_options.py --options "fp32 (reference)" bf16 fp16``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import torch

import inbedder_st
from inbedder_st.dtypes import FAST_HALF_FLAGS, slow_half_precision, x86_cpu_flags
from inbedder_st.train.loop import TrainConfig, train
from inbedder_st.train.readers import read_tweetqa

DATA = os.environ.get("INBEDDER_DATA", "../shared/data")


def matmul_ms(dtype: torch.dtype, repeats: int) -> float:
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(512, 576, generator=generator).to(dtype)
    b = torch.randn(576, 1536, generator=generator).to(dtype)
    a @ b  # warm-up
    started = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return (time.perf_counter() - started) / repeats * 1e3


def training_tokens_per_second(records, bf16: bool) -> float:
    module = inbedder_st.load_model(fine_tuned=False, device="cpu")[0]
    with tempfile.TemporaryDirectory() as output:
        config = TrainConfig(output_dir=output, max_steps=2, batch_size=4, grad_accum=1, max_length=128, eval_size=4,
                             eval_steps=1000, save_steps=1000, bf16=bf16, lora_r=16, lora_alpha=32)  # fmt: skip
        return train(module, records, config, show_progress_bar=False).tokens_per_second


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed products per dtype")
    args = parser.parse_args()
    flags = x86_cpu_flags() or set()
    units = sorted(flags & {f for names in FAST_HALF_FLAGS.values() for f in names})
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, capability "
          f"{torch.backends.cpu.get_cpu_capability()}, half-precision units: {units or 'none'}")  # fmt: skip
    for dtype in (torch.bfloat16, torch.float16):
        print(f"slow_half_precision({dtype}, 'cpu'): {slow_half_precision(dtype, 'cpu')}")

    print("\n| matmul [512 x 576] @ [576 x 1536] | ms | time vs fp32 |\n|---|---:|---:|")
    reference = matmul_ms(torch.float32, args.repeats)
    for dtype in (torch.float32, torch.bfloat16, torch.float16):
        ms = reference if dtype == torch.float32 else matmul_ms(dtype, args.repeats)
        print(f"| {str(dtype).removeprefix('torch.')} | {ms:.1f} | {ms / reference:.1f}x |")

    records = read_tweetqa(os.path.join(DATA, "qa", "tweetqa_dev.json"))[:12]
    print("\n| training (LoRA r16, 2 steps of 4 records) | tokens/s | time vs fp32 |\n|---|---:|---:|")
    fp32 = training_tokens_per_second(records, bf16=False)
    bf16 = training_tokens_per_second(records, bf16=True)
    print(f"| fp32 | {fp32:.1f} | 1.0x |\n| bf16 autocast | {bf16:.1f} | {fp32 / bf16:.1f}x |")


if __name__ == "__main__":
    main()
