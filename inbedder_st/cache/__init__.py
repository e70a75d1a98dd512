"""An on-disk embedding cache: a repeated (model, instruction, text) is read back instead of re-encoded.

- keys.py             what determines an embedding, hashed (model, call variant, text)
- packs.py            the pack files: checksummed, written atomically, verified when written and when read
- index.py            SQLite index from a text digest to its pack and row: a lookup opens only the packs it needs
- embedding_cache.py  ``EmbeddingCache``: ``encode`` / ``warm_multi`` on top of the three
"""

from inbedder_st.cache.embedding_cache import EmbeddingCache
from inbedder_st.cache.keys import (
    TEXT_DIGEST_BYTES,
    call_variant,
    instruction_key,
    model_description,
    model_key,
    source_hash,
    text_digest,
    weights_fingerprint,
)
from inbedder_st.cache.packs import PACK_SUFFIX, CorruptPack, read_pack, write_pack

__all__ = [
    "PACK_SUFFIX",
    "TEXT_DIGEST_BYTES",
    "CorruptPack",
    "EmbeddingCache",
    "call_variant",
    "instruction_key",
    "model_description",
    "model_key",
    "read_pack",
    "source_hash",
    "text_digest",
    "weights_fingerprint",
    "write_pack",
]
