"""Shared fixtures: the real default model (loaded once per session) and the shared data folder."""

from __future__ import annotations

import os
from pathlib import Path

# Torch's OpenMP threads spin-wait by default; on a busy machine that made small batches up to 20x slower.
# Set before torch is imported anywhere in the session.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"

# NLTK reads NLTK_DATA when it is imported, so this must run before any test imports it.
if (SHARED_DATA / "nltk_data").is_dir():
    os.environ.setdefault("NLTK_DATA", str(SHARED_DATA / "nltk_data"))


def shared_file(relative: str) -> Path:
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"{path} is absent (the shared data folder ships beside the repository, not in it)")
    return path


@pytest.fixture(scope="session")
def default_model():
    import inbedder_st

    return inbedder_st.load_model(device="cpu")


@pytest.fixture
def fresh_default(default_model):
    """The session model with its module settings restored after the test (tests may change pooling etc.)."""
    module = default_model[0]
    saved = {key: getattr(module, key) for key in module.config_keys}
    yield default_model
    for key, value in saved.items():
        setattr(module, key, value)


@pytest.fixture(scope="session")
def emotion_texts() -> list[str]:
    import json

    lines = shared_file("emotion/test.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["text"] for line in lines]
