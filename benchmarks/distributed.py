"""Texts/s of plain ``model.encode`` in one process against ``embed_dataset`` on a local Ray (1 and 2 actors).

Run from the repository root, alone on the machine (a few minutes on a 2-core CPU):

    python benchmarks/distributed.py [--data ../shared/data/emotion/test.jsonl] [--limit 480] [--batch-size 32]

One instruction, the default model, fp32, in this order:
  (a) model.encode in this process with torch's default threads (one per core);
  (b) the same with torch.set_num_threads(1): the compute one Ray actor gets;
  (c) embed_dataset on ray.init(num_cpus=2) with 1 actor (1 CPU, 1 thread);
  (d) the same with 2 actors.
Each Ray job starts with one warm-up batch per actor; its rate is counted from when those are out to the end
(the actors' start and model load, a fixed cost per job, are reported apart), so (c)/(b) is the per-row
overhead of Ray Data: the goal is >= 0.85. It also checks that Ray's embeddings equal (a)'s (min cosine).
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
import torch
from compare import min_cosine  # benchmarks/compare.py (run as a script, benchmarks/ is on sys.path)

INSTRUCTION = "How does the customer feel?"


def plain(model, texts, batch_size: int, threads: int | None) -> float:
    before = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    model.encode(texts[:batch_size], prompt=INSTRUCTION, batch_size=batch_size)  # warm-up
    start = time.perf_counter()
    model.encode(texts, prompt=INSTRUCTION, batch_size=batch_size)
    seconds = time.perf_counter() - start
    torch.set_num_threads(before)
    return len(texts) / seconds


def on_ray(ray, texts, batch_size: int, actors: int):
    """(texts/s once every actor is warm, seconds to that point, embeddings of ``texts`` in input order).

    The job starts with one warm-up batch per actor (other texts, not counted): the clock starts when those
    are out, so the actors' start and model load (a fixed cost per job) are timed apart from the rate.
    """
    from inbedder_st.distributed import embed_dataset

    warm = (texts[::-1] * actors)[: actors * batch_size]
    rows = [{"text": t} for t in warm + texts]
    ds = ray.data.from_items(rows, override_num_blocks=len(rows) // batch_size)
    out = embed_dataset(ds, "default", [INSTRUCTION], batch_size=batch_size, concurrency=actors)
    start = time.perf_counter()
    seen, vectors, warm_at = 0, [], None
    for batch in out.iter_batches(batch_size=None, batch_format="pyarrow"):
        seen += batch.num_rows
        vectors.extend(batch.column("embedding_0").to_pylist())
        if warm_at is None and seen >= len(warm):
            warm_at = time.perf_counter()
    seconds = time.perf_counter() - warm_at
    return len(texts) / seconds, warm_at - start, np.array(vectors[len(warm) :])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default="../shared/data/emotion/test.jsonl")
    parser.add_argument("--limit", type=int, default=480)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()

    import ray

    import inbedder_st

    with open(args.data, encoding="utf-8") as file:
        texts = [json.loads(line)["text"] for line in file][: args.limit]
    load_before = os.getloadavg()
    model = inbedder_st.load_model(device="cpu")
    reference = model.encode(texts, prompt=INSTRUCTION, batch_size=args.batch_size)
    rates = {"a": plain(model, texts, args.batch_size, None), "b": plain(model, texts, args.batch_size, 1)}
    ray.init(num_cpus=2, include_dashboard=False, configure_logging=False, log_to_driver=False)
    starts, cosines = {}, {}
    for key, actors in (("c", 1), ("d", 2)):
        rates[key], starts[key], vectors = on_ray(ray, texts, args.batch_size, actors)
        cosines[key] = min_cosine(vectors, reference)
    ray.shutdown()
    load_after = os.getloadavg()

    print(f"{len(texts)} texts of {args.data}, 1 instruction, batch {args.batch_size}, {os.cpu_count()} CPUs, "
          f"torch {torch.__version__}, ray {ray.__version__}")  # fmt: skip
    print("| method | texts/s | relative to (b) |\n|---|---:|---:|")
    labels = {
        "a": f"(a) `model.encode`, one process, {torch.get_num_threads()} threads",
        "b": "(b) `model.encode`, one process, 1 thread",
        "c": "(c) `embed_dataset`, Ray, 1 actor x 1 thread",
        "d": "(d) `embed_dataset`, Ray, 2 actors x 1 thread",
    }
    for key, label in labels.items():
        print(f"| {label} | {rates[key]:.1f} | {rates[key] / rates['b']:.2f} |")
    print(f"Ray overhead ratio at 1 actor (c)/(b) = {rates['c'] / rates['b']:.2f} (goal >= 0.85); "
          f"2 actors / 1 actor = {rates['d'] / rates['c']:.2f}; (d)/(a) = {rates['d'] / rates['a']:.2f}")  # fmt: skip
    print(f"actor start + model load + warm-up batch: {starts['c']:.1f} s (1 actor), {starts['d']:.1f} s (2 actors)")
    print(f"min cosine Ray vs one process: {min(cosines.values()):.6f}")
    print(f"load average (1, 5, 15 min): before {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}, "
          f"after {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
