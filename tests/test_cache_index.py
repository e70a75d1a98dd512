"""The embedding cache's index: a lookup opens only the packs that hold wanted texts; old caches get indexed."""

import logging

import numpy as np

from inbedder_st.cache import EmbeddingCache, text_digest
from inbedder_st.cache import embedding_cache
from inbedder_st.cache.index import INDEX_NAME

MODEL, VARIANT = "m" * 32, {"instruction": "Why?", "truncate_dim": None, "device": "cpu"}


def fill(cache, n_packs: int, per_pack: int = 3, dim: int = 4) -> list[str]:
    texts = []
    for p in range(n_packs):
        batch = [f"pack {p} text {i}" for i in range(per_pack)]
        vectors = np.arange(per_pack * dim, dtype=np.float32).reshape(per_pack, dim) + p
        cache.store(MODEL, VARIANT, [text_digest(t) for t in batch], vectors)
        texts += batch
    return texts


def test_a_lookup_reads_only_the_packs_it_needs(tmp_path, monkeypatch):
    cache = EmbeddingCache(tmp_path)
    texts = fill(cache, 20)
    opened = []
    real = embedding_cache.read_pack
    monkeypatch.setattr(embedding_cache, "read_pack", lambda path, *a: opened.append(path.name) or real(path, *a))
    found = cache.lookup(MODEL, VARIANT, [text_digest(texts[7]), text_digest("not stored")])
    assert len(opened) == 1 and list(found) == [text_digest(texts[7])]
    np.testing.assert_array_equal(found[text_digest(texts[7])], np.arange(4, 8, dtype=np.float32) + 2)


def test_packs_written_without_the_index_are_indexed_once(tmp_path):
    texts = fill(EmbeddingCache(tmp_path), 3)
    (tmp_path / INDEX_NAME).unlink()  # as a cache from before the index looks
    cache = EmbeddingCache(tmp_path)
    assert len(cache.lookup(MODEL, VARIANT, [text_digest(t) for t in texts])) == len(texts)
    assert cache.index.is_indexed(f"{MODEL}/{cache.folder(MODEL, VARIANT).name}")


def test_a_pack_deleted_by_hand_is_a_miss_not_an_error(tmp_path, caplog):
    cache = EmbeddingCache(tmp_path)
    texts = fill(cache, 2)
    first = sorted(cache.folder(MODEL, VARIANT).glob("*.npz"))[0]
    first.unlink()
    with caplog.at_level(logging.WARNING):
        found = cache.lookup(MODEL, VARIANT, [text_digest(t) for t in texts])
    assert len(found) == 3 and "corrupt" not in caplog.text
