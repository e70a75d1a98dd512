"""Instruction heads against the full InBedder: encode speed, fit time, and adding an instruction to a corpus
that is already embedded.

Run from the repository root (a few minutes on a 2-core CPU):

    python benchmarks/heads.py [--data ../shared/data/emotion] [--texts 500] [--sample 1000] [--vectors 100000]
                               [--output FILE.md]

One run, in this process:
  1. encode speed: the default InBedder (``model.encode(texts, prompt=...)``) and MiniLM + head
     (``head.encode(texts)``) on the same ``--texts`` texts of the emotion test split, each after one untimed
     warm-up batch; texts/s and the ratio (goal >= 10x);
  2. fit time: ``fit_head(teacher, train texts, prompt, sample=--sample)`` on the emotion *train* split, with the
     time of each stage (teacher, base, solve, fit scores);
  3. adding an instruction to an embedded corpus: ``apply_heads`` on ``--vectors`` unit vectors of the base
     model's size, the vectors a vector store would hold (goal: under 1 s); beside it, re-encoding that corpus
     with the InBedder at the rate measured in 1 (extrapolated, not run).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
import torch
from compare import timed  # benchmarks/compare.py (run as a script, benchmarks/ is on sys.path)

INSTRUCTION = "How does the writer feel?"


def read_texts(path: Path) -> list[str]:
    return [json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default="../shared/data/emotion", help="folder with train.jsonl and test.jsonl")
    parser.add_argument("--texts", type=int, default=500, help="texts for the encode-speed comparison")
    parser.add_argument("--sample", type=int, default=1000, help="texts the head is fitted on")
    parser.add_argument("--vectors", type=int, default=100_000, help="size of the embedded corpus for apply_heads")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--output", default=None, help="also write the report to this markdown file")
    args = parser.parse_args()

    import inbedder_st
    from inbedder_st.heads import apply_heads, fit_head

    data = Path(args.data)
    test = read_texts(data / "test.jsonl")[: args.texts]
    train = read_texts(data / "train.jsonl")
    teacher = inbedder_st.load_model()

    # 2 first: it yields the head that 1 times.
    fit_seconds, head = timed(
        lambda: fit_head(teacher, train, INSTRUCTION, sample=args.sample, batch_size=args.batch_size, seed=0)
    )
    info = head.head_info

    warm = test[: args.batch_size]
    inbedder_seconds, _ = timed(
        lambda: teacher.encode(test, prompt=INSTRUCTION, batch_size=args.batch_size),
        lambda: teacher.encode(warm, prompt=INSTRUCTION, batch_size=args.batch_size),
    )
    head_seconds, _ = timed(
        lambda: head.encode(test, batch_size=args.batch_size), lambda: head.encode(warm, batch_size=args.batch_size)
    )
    inbedder_rate, head_rate = len(test) / inbedder_seconds, len(test) / head_seconds

    rng = np.random.default_rng(0)
    corpus = rng.standard_normal((args.vectors, info.base_dim)).astype(np.float32)
    corpus /= np.linalg.norm(corpus, axis=1, keepdims=True)
    apply_heads(corpus[:1000], [head])  # warm-up (thread pools, first allocation)
    apply_seconds, applied = timed(lambda: apply_heads(corpus, [head]))
    shape = applied[INSTRUCTION].shape

    lines = [
        f"# Instruction heads: {info.base} + linear head vs the default InBedder",
        "",
        f"Instruction {INSTRUCTION!r}; {platform.processor() or platform.machine()}, torch {torch.__version__} with "
        f"{torch.get_num_threads()} threads, batch {args.batch_size}, load average at the end "
        f"{os.getloadavg()[0]:.1f}.",
        "",
        f"**1. Encode** ({len(test)} texts of {data / 'test.jsonl'}):",
        "",
        "| model | seconds | texts/s | relative |",
        "|---|---:|---:|---:|",
        f"| InBedder (default), `encode(texts, prompt=...)` | {inbedder_seconds:.1f} | {inbedder_rate:.1f} | 1.00 |",
        f"| MiniLM + head, `head.encode(texts)` | {head_seconds:.1f} | {head_rate:.1f} | {head_rate / inbedder_rate:.2f} |",
        "",
        f"speed-up {head_rate / inbedder_rate:.1f}x (goal >= 10x)",
        "",
        f"**2. Fit** a {info.kind} head on a sample of {info.sample_size} texts of {data / 'train.jsonl'}: "
        f"{fit_seconds:.1f} s in all; "
        + ", ".join(f"{stage} {seconds:.1f} s" for stage, seconds in info.stage_seconds.items())
        + ". Fit scores: "
        + ", ".join(f"{key} {value}" for key, value in info.fit_scores.items())
        + ".",
        "",
        f"**3. Add an instruction to {args.vectors:,} embedded vectors** (`apply_heads`, {info.base_dim} -> "
        f"{shape[1]} dimensions, normalised): {apply_seconds:.3f} s (goal < 1 s); with the fit above, "
        f"{fit_seconds + apply_seconds:.1f} s for a new instruction. Re-encoding the corpus with the InBedder at "
        f"{inbedder_rate:.1f} texts/s instead: {args.vectors / inbedder_rate / 60:.0f} min (extrapolated).",
    ]
    report = "\n".join(lines) + "\n"
    print(report)
    if args.output:
        Path(args.output).write_text(report, encoding="utf-8")


if __name__ == "__main__":
    main()
