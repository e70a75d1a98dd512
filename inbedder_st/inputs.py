"""Input checks shared by encode, answer and the module: fail loudly and name the offending item."""

from __future__ import annotations

from collections.abc import Sequence


def check_texts(texts) -> list[str]:
    """Return ``texts`` as a list of str, or raise TypeError naming the first bad item's index and type."""
    if isinstance(texts, (str, bytes)) or not isinstance(texts, Sequence):
        raise TypeError(f"Expected a list of str, got {type(texts).__name__}.")
    for index, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"Item {index} is {type(text).__name__}, expected str: {text!r:.80}")
    return list(texts)
