"""Input checks shared by encode, answer and the module: fail loudly and name the offending item."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Set

import numpy as np


def check_texts(texts) -> list[str]:
    """Return ``texts`` as a list of str, or raise TypeError naming the first bad item's index and type.

    Accepts what ``SentenceTransformer.encode`` accepts for text: a list, a tuple, a 1-D numpy array (of str or
    objects) or any other ordered iterable (a pandas Series, a datasets column, a generator).
    """
    if isinstance(texts, np.ndarray):
        if texts.ndim != 1:
            raise TypeError(f"Expected a 1-D array of str, got an array of shape {texts.shape}.")
        texts = texts.tolist()
    elif isinstance(texts, (str, bytes, Mapping, Set)) or not isinstance(texts, Iterable):
        raise TypeError(f"Expected a list of str, got {type(texts).__name__}.")
    texts = list(texts)
    for index, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"Item {index} is {type(text).__name__}, expected str: {text!r:.80}")
    return texts
