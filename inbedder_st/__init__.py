"""Instruction-following text embeddings (InBedder, "Answer is All You Need", ACL 2024) for
sentence-transformers, MTEB and the Hugging Face Hub."""

from inbedder_st.answers import answer
from inbedder_st.answer_space import ANSWER_POOLINGS
from inbedder_st.loading import load_model, load_sparse_model
from inbedder_st.model import InBedderModel
from inbedder_st.module import DEFAULT_INSTRUCTION, InBedder
from inbedder_st.multi import encode_multi
from inbedder_st.sparse import InBedderSparseModel
from inbedder_st.pooling import POOLINGS
from inbedder_st.templates import NAMED_TEMPLATES

__version__ = "0.1.0"

__all__ = [
    "ANSWER_POOLINGS",
    "InBedderSparseModel",
    "load_sparse_model",
    "DEFAULT_INSTRUCTION",
    "POOLINGS",
    "NAMED_TEMPLATES",
    "InBedder",
    "InBedderModel",
    "answer",
    "encode_multi",
    "load_model",
]
