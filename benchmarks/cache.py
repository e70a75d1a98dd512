"""Embedding-cache lookup time as the cache grows: 1,000 wanted texts with 10 vs 1,000 packs on disk.

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/cache.py

The 1,000 wanted texts sit in one pack; the other packs hold 100 other texts each (576 dimensions, the
default model's), all under one model and instruction. "indexed" is ``EmbeddingCache.lookup``; "scan every
pack" is the lookup before the index (open and checksum every pack in the folder), for comparison. No model
is loaded: the cache is filled through ``store`` with random vectors.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from inbedder_st.cache import PACK_SUFFIX, EmbeddingCache, instruction_key, read_pack, text_digest

MODEL, VARIANT = "b" * 32, {"instruction": "How does the customer feel?", "truncate_dim": None, "device": "cpu"}
DIM = 576


def scan_every_pack(cache: EmbeddingCache, digests: list[bytes]) -> dict[bytes, np.ndarray]:
    """The lookup before the index: every pack of the folder opened and verified on each call."""
    wanted, found = set(digests), {}
    for path in sorted(cache.folder(MODEL, VARIANT).glob(f"*{PACK_SUFFIX}")):
        keys, vectors = read_pack(path, MODEL, instruction_key(VARIANT))
        for key, vector in zip(keys, vectors):
            if key.tobytes() in wanted:
                found[key.tobytes()] = vector
    return found


def fill(root: Path, n_packs: int, wanted: list[bytes], other_per_pack: int) -> EmbeddingCache:
    cache = EmbeddingCache(root)
    rng = np.random.default_rng(0)
    cache.store(MODEL, VARIANT, wanted, rng.standard_normal((len(wanted), DIM), dtype=np.float32))
    for p in range(n_packs - 1):
        digests = [text_digest(f"other {p} {i}") for i in range(other_per_pack)]
        cache.store(MODEL, VARIANT, digests, rng.standard_normal((other_per_pack, DIM), dtype=np.float32))
    return cache


def timed(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packs", type=int, nargs="+", default=[10, 1000])
    parser.add_argument("--texts", type=int, default=1000)
    parser.add_argument("--other-per-pack", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    wanted = [text_digest(f"wanted text {i}") for i in range(args.texts)]
    print(f"Lookup of {args.texts:,} texts ({DIM} dims), median of {args.repeats} runs.\n")
    print("| packs on disk | indexed lookup (ms) | scan every pack (ms) |")
    print("|---:|---:|---:|")
    for n_packs in args.packs:
        with tempfile.TemporaryDirectory() as folder:
            cache = fill(Path(folder), n_packs, wanted, args.other_per_pack)
            fresh = EmbeddingCache(folder)  # a new process's view: nothing memoised
            assert len(fresh.lookup(MODEL, VARIANT, wanted)) == len(wanted)
            indexed = timed(lambda: fresh.lookup(MODEL, VARIANT, wanted), args.repeats)
            assert len(scan_every_pack(cache, wanted)) == len(wanted)
            scan = timed(lambda: scan_every_pack(cache, wanted), max(1, args.repeats // 2))
            print(f"| {n_packs:,} | {indexed * 1e3:.1f} | {scan * 1e3:.1f} |")


if __name__ == "__main__":
    main()
