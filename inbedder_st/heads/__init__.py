"""Instruction heads: InBedder's instruction-following at a generic embedder's speed.

An InBedder re-reads every text for every instruction. A head learns, from the InBedder (the teacher) on a
small sample, a projection of a generic embedder's vectors (all-MiniLM-L6-v2 by default) that follows one
instruction; a corpus embedded once by the generic model then gets an instruction by one matrix product.

    from inbedder_st import heads, load_model
    head = heads.fit_head(load_model(), texts, "How does the customer feel?")   # a plain SentenceTransformer
    head.encode(new_texts)                                       # bare texts; the head is the instruction
    heads.save_head(head, "out/feel-head")                       # SentenceTransformer("out/feel-head") loads it
    heads.apply_heads(minilm_vectors, [head])                    # {"How does the customer feel?": vectors}
"""

from inbedder_st.heads.apply import apply_heads
from inbedder_st.heads.fit import (
    KINDS,
    MIN_SAMPLE,
    OBJECTIVES,
    fit_head,
    fit_layers,
    identity_head,
    resolve_base,
    sample_texts,
)
from inbedder_st.heads.labels import AnswerGroups, group_answers
from inbedder_st.heads.model import (
    HEAD_FILE,
    HeadInfo,
    build_head_model,
    head_info,
    is_head_folder,
    load_head,
    read_head_info,
    read_head_layers,
    save_head,
)

__all__ = [
    "HEAD_FILE",
    "KINDS",
    "MIN_SAMPLE",
    "OBJECTIVES",
    "AnswerGroups",
    "HeadInfo",
    "apply_heads",
    "build_head_model",
    "fit_head",
    "fit_layers",
    "group_answers",
    "identity_head",
    "head_info",
    "is_head_folder",
    "load_head",
    "read_head_info",
    "read_head_layers",
    "resolve_base",
    "sample_texts",
    "save_head",
]
