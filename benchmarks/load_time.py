"""Cold and warm load time of the default model, each in a fresh process.

    python benchmarks/load_time.py

Cold: an empty conversion cache (a temporary $INBEDDER_CACHE), so the GGUF file is dequantised and the
adapter merged. Warm: a second fresh process on the same cache. Each line reports the seconds to import
inbedder_st, to run load_model(), and to embed one text (which also pages the weights in), and the process's
peak resident memory (benchmarks/suite.py reports it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

PROBE = """
import json, resource, time
t0 = time.perf_counter()
import inbedder_st
t1 = time.perf_counter()
model = inbedder_st.load_model(device="cpu")
t2 = time.perf_counter()
model.encode(["I love cat!"], prompt="What animal is mentioned?")
t3 = time.perf_counter()
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"import": t1 - t0, "load_model": t2 - t1, "first_encode": t3 - t2, "max_rss_mb": rss}))
"""


def measure(cache: str) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True,
        env={**os.environ, "INBEDDER_CACHE": cache, "TQDM_DISABLE": "1"},
    )  # fmt: skip
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    with tempfile.TemporaryDirectory() as cache:
        rows = {"cold (empty cache)": measure(cache), "warm (cached)": measure(cache)}
    print("| load | import inbedder_st (s) | load_model() (s) | first encode (s) | total (s) |")
    print("|---|---:|---:|---:|---:|")
    for name, t in rows.items():
        print(f"| {name} | {t['import']:.2f} | {t['load_model']:.2f} | {t['first_encode']:.2f} | {t['import'] + t['load_model'] + t['first_encode']:.2f} |")


if __name__ == "__main__":
    main()
