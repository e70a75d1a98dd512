"""Shared fixtures: the real default model (loaded once per session), test texts and the shared data folder."""

from __future__ import annotations

import os
from pathlib import Path

# Torch's OpenMP threads spin-wait by default; on a busy machine that made small batches up to 20x slower.
# Set before torch is imported anywhere in the session.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pytest

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"
# The shared data beside the repository; $INBEDDER_DATA points elsewhere (as it does for `inbedder evaluate`).
SHARED_DATA = Path(os.environ["INBEDDER_DATA"]) if os.environ.get("INBEDDER_DATA") else REPO.parent / "shared" / "data"
SHARED_REFERENCE = SHARED_DATA.parent / "reference"
# CI sets INBEDDER_REQUIRE_DATA=1: then a check that would skip for missing shared data fails instead, so a
# missing ../shared can never pass as green.
REQUIRE_DATA = os.environ.get("INBEDDER_REQUIRE_DATA", "").strip() not in ("", "0")

# NLTK reads NLTK_DATA when it is imported, so this must run before any test imports it.
if (SHARED_DATA / "nltk_data").is_dir():
    os.environ.setdefault("NLTK_DATA", str(SHARED_DATA / "nltk_data"))


def missing_data(reason: str) -> None:
    """Skip a check that needs the shared data, or fail it when the data is required (INBEDDER_REQUIRE_DATA)."""
    if REQUIRE_DATA:
        pytest.fail(f"{reason}; INBEDDER_REQUIRE_DATA is set, so missing data is a failure", pytrace=False)
    pytest.skip(reason)


def shared_file(relative: str, root: Path = SHARED_DATA) -> Path:
    path = root / relative
    if not path.exists():
        missing_data(f"{path} is absent (the shared data folder ships beside the repository, not in it)")
    return path


@pytest.fixture(scope="session")
def nltk_stopwords() -> tuple[str, ...]:
    """NLTK's English stopwords (from the shared data's nltk_data, or a download)."""
    from inbedder_st.stopwords import english_stopwords

    try:
        return english_stopwords()
    except RuntimeError as error:
        missing_data(str(error))


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
def customer_texts() -> list[str]:
    """40 customer messages written for these tests, 1 to about 35 words (no shared data needed)."""
    return (FIXTURES / "customer_messages.txt").read_text(encoding="utf-8").splitlines()
