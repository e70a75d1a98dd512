"""InBedderModel: a SentenceTransformer whose first module is InBedder, with checked inputs.

It only adds what a plain SentenceTransformer cannot do from inside a module: name the *index* of a bad
input (the module sees length-sorted batches) and return shape (0, dim) for an empty list.

A saved InBedder folder names its module class ``inbedder_st.module.InBedder`` in ``modules.json``.
sentence-transformers 6 imports a class outside its own package only with ``trust_remote_code=True``, so
``SentenceTransformer(path, trust_remote_code=True)`` is the way to load one with plain sentence-transformers
(the folder holds no code: the flag lets it import the installed ``inbedder_st``). ``inbedder_st.load_model``
checks ``modules.json`` first and needs no flag (loading.py). sentence-transformers' state is never patched.
"""

from __future__ import annotations

import numpy as np
import torch
from sentence_transformers import SentenceTransformer

from inbedder_st.inputs import check_texts
from inbedder_st.module import InBedder

MODULE_TYPE = f"{InBedder.__module__}.{InBedder.__qualname__}"  # the ``type`` saved in modules.json


class InBedderMixin:
    """What InBedderModel and InBedderSparseModel add to their sentence-transformers base class."""

    @property
    def inbedder(self) -> InBedder:
        first = self[0]
        if not isinstance(first, InBedder):
            raise TypeError(f"The first module is {type(first).__name__}, not InBedder.")
        return first

    def _input_length(self, text) -> int:
        """Sort key for batching: token count, not sentence-transformers' character count.

        Batches of similar token length waste ~1% on padding instead of ~11% (emotion test set), and the
        forward pass costs in proportion to padded tokens.
        """
        if isinstance(text, str):
            return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])
        return super()._input_length(text)

    def encode(self, inputs, *args, **kwargs):
        single = isinstance(inputs, str)
        texts = check_texts([inputs] if single else inputs)
        if not texts:
            return self._empty_embeddings(kwargs)
        return super().encode(inputs if single else texts, *args, **kwargs)

    def _empty_embeddings(self, kwargs: dict):
        dim = self.get_embedding_dimension()
        if kwargs.get("convert_to_tensor"):
            return torch.zeros((0, dim))
        if kwargs.get("convert_to_numpy", True):
            return np.zeros((0, dim), dtype=np.float32)
        return []


class InBedderModel(InBedderMixin, SentenceTransformer):
    """A drop-in SentenceTransformer; ``prompt`` is the instruction the embedding should answer."""
