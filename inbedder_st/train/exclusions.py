"""Texts training must never see: every text of the dev and held-out evaluation tasks' sampled data.

Training runs where mteb is absent (a rented GPU), so the texts are stored as short hashes in
``excluded_texts.txt`` (hashes, not data: nothing of ../shared/data is copied). Regenerate the file after a
change to the dev or held-out tasks with ``python -m inbedder_st.train.exclusions`` (needs mteb and the
shared data); ``tests/test_labeled.py`` checks that it is up to date.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

EXCLUDED_FILE = Path(__file__).with_name("excluded_texts.txt")
SUITES = ("dev", "heldout")


def text_key(text: str) -> str:
    """A 12-hex-digit hash of the text, lowercased with whitespace collapsed (48 bits: no collisions in practice)."""
    return hashlib.sha1(" ".join(text.lower().split()).encode("utf-8")).hexdigest()[:12]


def _strings(value, out: set[str]) -> None:
    if isinstance(value, str):
        out.add(value)
    elif isinstance(value, dict):
        for item in value.values():
            _strings(item, out)
    elif hasattr(value, "column_names"):  # a datasets.Dataset
        for column in value.column_names:
            _strings(value[column], out)
    elif isinstance(value, (list, tuple)) or type(value).__name__ == "Column":
        for item in value:
            _strings(item, out)


def evaluation_texts(data: str | Path | None = None) -> set[str]:
    """Every string in the sampled data of the dev and held-out tasks (texts; labels come along, harmlessly)."""
    from mteb_tasks import get_tasks

    texts: set[str] = set()
    for task in get_tasks(list(SUITES), data=data):
        task.load_data()
        _strings(task.dataset, texts)
    return texts


def write_excluded(path: Path = EXCLUDED_FILE, data: str | Path | None = None) -> int:
    keys = sorted({text_key(text) for text in evaluation_texts(data)})
    header = "# text_key() of every text in the dev and held-out tasks' data; regenerate: python -m inbedder_st.train.exclusions\n"
    path.write_text(header + "\n".join(keys) + "\n", encoding="utf-8")
    return len(keys)


@cache
def excluded_keys(path: Path = EXCLUDED_FILE) -> frozenset[str]:
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: training cannot leave out the evaluation texts without it. "
                                "Regenerate it with: python -m inbedder_st.train.exclusions")  # fmt: skip
    lines = path.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip() for line in lines if line.strip() and not line.startswith("#"))


if __name__ == "__main__":
    import sys

    count = write_excluded(data=sys.argv[1] if len(sys.argv) > 1 else None)
    print(f"wrote {count} text keys to {EXCLUDED_FILE}")
