"""InBedderSparseModel: the answer_sparse readout served through sentence-transformers' ``SparseEncoder``.

Each text becomes a vocabulary-sized vector: the square root of the model's answer distribution for the
instruction, its ``answer_top_k`` largest entries kept and L2-normalised (inbedder_st/answer_space.py). So
``encode`` returns sparse tensors, ``similarity`` is a dot product that equals the cosine, ``decode`` lists the
answer tokens with their weights (an explanation of the embedding), and ``max_active_dims`` is ``answer_top_k``.
Any inverted index that stores (token id, weight) pairs and scores by dot product can serve these vectors.
"""

from __future__ import annotations

import torch
from sentence_transformers import SparseEncoder

from inbedder_st.model import InBedderMixin


class InBedderSparseModel(InBedderMixin, SparseEncoder):
    """A SparseEncoder whose first module is an InBedder with ``pooling="answer_sparse"``."""

    def _empty_embeddings(self, kwargs: dict):
        empty = torch.zeros((0, self.get_embedding_dimension()))
        if not kwargs.get("convert_to_tensor", True):
            return []
        return empty.to_sparse() if kwargs.get("convert_to_sparse_tensor", True) else empty
