"""``EmbeddingCache``: ``model.encode`` with finished embeddings read back from disk.

``cache.encode(model, texts, prompt=...)`` encodes only the texts not stored under the same model and call
variant (keys.py says what the key holds), stores the new vectors as one pack (packs.py) and indexes it
(index.py). Layout: ``ROOT/index.sqlite`` and ``ROOT/<model key>/<variant key>/<pack>.npz`` with ``model.json``
and ``instruction.json`` describing the keys. ``encode`` arguments that would change the output and are not in
the key (``output_value``, ``precision``, ``convert_to_tensor``, ``pool``, model-specific keyword arguments) are
refused with an error naming them.

Size: ``20 + 4 * dim`` bytes per embedding (2,324 B for the default's 576 dimensions; 2.3 MB per 1,000 texts
per instruction) plus about 1 KB per pack, about 60 bytes of index per embedding, and a few hundred bytes of
JSON per model and instruction. ``size_bytes()`` measures a cache, ``clear()`` empties it.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from inbedder_st.cache.index import PackIndex
from inbedder_st.cache.keys import TEXT_DIGEST_BYTES, call_variant, instruction_key, model_key, text_digest
from inbedder_st.cache.packs import PACK_SUFFIX, CorruptPack, read_pack, write_json_once, write_pack
from inbedder_st.inputs import check_texts
from inbedder_st.prompts import resolve_prompt

logger = logging.getLogger("inbedder_st.cache")


class EmbeddingCache:
    """``cache.encode(model, texts, prompt=...)``: ``model.encode`` with finished embeddings read from disk."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self.index = PackIndex(self.root)
        self.hits = 0
        self.misses = 0
        self._indexed: set[str] = set()  # folders known to be indexed: no query needed

    def __repr__(self) -> str:
        return f"EmbeddingCache({str(self.root)!r})"

    def folder(self, model_id: str, variant: dict) -> Path:
        return self.root / model_id / instruction_key(variant)

    def _folder_key(self, model_id: str, variant: dict) -> str:
        return f"{model_id}/{instruction_key(variant)}"

    def lookup(self, model_id: str, variant: dict, digests: Sequence[bytes]) -> dict[bytes, np.ndarray]:
        """The stored vectors of the wanted digests, read from the packs the index names (and only those);
        a corrupt pack is deleted with a warning and its texts count as missing."""
        self._ensure_indexed(model_id, variant)
        folder, key = self.folder(model_id, variant), self._folder_key(model_id, variant)
        by_pack: dict[str, list[tuple[bytes, int]]] = {}
        for digest, (pack, row) in self.index.find(key, digests).items():
            by_pack.setdefault(pack, []).append((digest, row))
        found = {}
        for pack, rows in by_pack.items():
            contents = self._read(folder / pack, model_id, variant)
            if contents is None:
                continue
            keys, vectors = contents
            for digest, row in rows:
                if row < len(keys) and keys[row].tobytes() == digest:  # the index and the pack agree
                    found[digest] = vectors[row]
        return found

    def store(self, model_id: str, variant: dict, digests: Sequence[bytes], vectors: np.ndarray) -> None:
        if not len(digests):
            return
        self._ensure_indexed(model_id, variant)
        folder = self.folder(model_id, variant)
        write_json_once(folder / "instruction.json", variant)
        keys = np.frombuffer(b"".join(digests), dtype=np.uint8).reshape(len(digests), TEXT_DIGEST_BYTES)
        path = write_pack(folder, keys, vectors, model_id, instruction_key(variant))
        self.index.add(self._folder_key(model_id, variant), path.name, digests)

    def _read(self, path: Path, model_id: str, variant: dict) -> tuple[np.ndarray, np.ndarray] | None:
        """A pack's (keys, vectors), verified; None when it is missing or corrupt (then deleted and unindexed)."""
        key = self._folder_key(model_id, variant)
        if not path.is_file():
            logger.info("Embedding cache: %s is gone; its texts are encoded again.", path)
            self.index.forget_pack(key, path.name)
            return None
        try:
            return read_pack(path, model_id, instruction_key(variant))
        except CorruptPack as error:
            logger.warning(
                "Embedding cache: %s is corrupt (%s); deleting it, its texts are encoded again.", path, error
            )
            path.unlink(missing_ok=True)
            self.index.forget_pack(key, path.name)
            return None

    def _ensure_indexed(self, model_id: str, variant: dict) -> None:
        """Index the packs of a folder written before the index existed (once per folder)."""
        key = self._folder_key(model_id, variant)
        if key in self._indexed or self.index.is_indexed(key):
            self._indexed.add(key)
            return
        for path in sorted(self.folder(model_id, variant).glob(f"*{PACK_SUFFIX}")):
            pack = self._read(path, model_id, variant)
            if pack is not None:
                self.index.add(key, path.name, [row.tobytes() for row in pack[0]])
        self.index.mark_indexed(key)
        self._indexed.add(key)

    def _model_id(self, model) -> str:
        if getattr(model[0], "pooling", None) == "answer_sparse":
            raise ValueError(
                "The embedding cache stores dense vectors; answer_sparse embeddings are vocabulary-sized and are not "
                "cached. Encode them directly, or cache the dense answer_dist readout."
            )
        model_id, description = model_key(model)
        write_json_once(self.root / model_id / "model.json", description)
        return model_id

    def encode(
        self,
        model,
        texts: list[str],
        prompt: str | None = None,
        *,
        prompt_name: str | None = None,
        normalize_embeddings: bool = False,
        **encode_kwargs,
    ) -> np.ndarray:
        """``model.encode(texts, prompt=prompt, prompt_name=prompt_name, ...)`` as float32 numpy, encoding only
        the texts not stored under the same model and variant."""
        texts = check_texts(texts)
        resolved = resolve_prompt(model, prompt, prompt_name)
        encode_kwargs = _checked_kwargs(encode_kwargs)
        variant = call_variant(model, resolved, encode_kwargs)
        model_id = self._model_id(model)
        digests = [text_digest(t) for t in texts]
        found = self.lookup(model_id, variant, digests)
        missing = _unique([(d, t) for d, t in zip(digests, texts) if d not in found])
        self.hits += len(texts) - sum(d not in found for d in digests)
        self.misses += len(missing)
        if missing:
            vectors = np.asarray(
                model.encode([t for _, t in missing], prompt=resolved, convert_to_numpy=True, **encode_kwargs),
                dtype=np.float32,
            )
            self.store(model_id, variant, [d for d, _ in missing], vectors)
            found.update({d: v for (d, _), v in zip(missing, vectors)})
        return _finish([found[d] for d in digests], normalize_embeddings, model, variant)

    def warm_multi(
        self, model, texts: list[str], prompts: Sequence[str | None], *, chunk_size: int = 2048, **encode_kwargs
    ) -> int:
        """Store every text under every prompt, computing the missing ones with ``encode_multi`` (one shared
        prefix per text) when the model allows it; returns how many embeddings were computed. A None prompt
        means what it means to ``model.encode``: the model's ``default_prompt_name``, if any."""
        from inbedder_st.multi import supports_encode_multi

        texts = check_texts(texts)
        prompts = list(dict.fromkeys(resolve_prompt(model, p) for p in prompts))
        encode_kwargs.pop("normalize_embeddings", None)  # the cache stores raw embeddings
        encode_kwargs = _checked_kwargs(encode_kwargs)
        variants = {p: call_variant(model, p, encode_kwargs) for p in prompts}
        model_id = self._model_id(model)
        todo = {}
        for prompt in prompts:
            found = self.lookup(model_id, variants[prompt], [text_digest(t) for t in texts])
            todo[prompt] = _unique([(text_digest(t), t) for t in texts if text_digest(t) not in found])
        waiting = [p for p in prompts if todo[p]]
        if not waiting:
            return 0
        multi_kwargs = {k: encode_kwargs[k] for k in ("batch_size", "show_progress_bar") if k in encode_kwargs}
        if not supports_encode_multi(model) or set(encode_kwargs) - set(multi_kwargs):
            logger.info("Embedding cache: encode_multi does not apply to this model or these options; encoding per instruction.")
            for prompt in waiting:
                self.encode(model, [t for _, t in todo[prompt]], prompt=prompt, **encode_kwargs)
            return sum(len(todo[p]) for p in waiting)
        from inbedder_st.multi import encode_multi

        union = _unique([item for p in waiting for item in todo[p]])
        computed = 0
        for start in range(0, len(union), chunk_size):
            chunk = union[start : start + chunk_size]
            vectors = encode_multi(model, [t for _, t in chunk], waiting, **multi_kwargs)
            for j, prompt in enumerate(waiting):
                wanted = {d for d, _ in todo[prompt]}
                rows = [i for i, (d, _) in enumerate(chunk) if d in wanted]
                self.store(model_id, variants[prompt], [chunk[i][0] for i in rows], vectors[j, rows])
                computed += len(rows)
        self.misses += computed
        return computed

    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.root.rglob("*") if p.is_file()) if self.root.is_dir() else 0

    def clear(self) -> None:
        self.index.close()
        shutil.rmtree(self.root, ignore_errors=True)
        self._indexed.clear()


# encode arguments that cannot change an embedding, or are part of the variant key (truncate_dim, device).
HARMLESS_KWARGS = ("batch_size", "show_progress_bar", "chunk_size")
KEYED_KWARGS = ("truncate_dim", "device")
# Allowed at the one value the cache returns.
FIXED_KWARGS = {"convert_to_numpy": True, "convert_to_tensor": False, "output_value": "sentence_embedding", "precision": "float32"}


def _checked_kwargs(encode_kwargs: dict) -> dict:
    """The ``encode`` arguments to pass on; anything that would change the output unkeyed raises, naming it."""
    for name, value in FIXED_KWARGS.items():
        if name in encode_kwargs and encode_kwargs[name] != value:
            raise ValueError(
                f"EmbeddingCache returns float32 numpy sentence embeddings: {name}={encode_kwargs[name]!r} is not "
                f"supported (only {value!r}); convert or quantise the returned array instead."
            )
    unknown = sorted(set(encode_kwargs) - set(FIXED_KWARGS) - set(HARMLESS_KWARGS) - set(KEYED_KWARGS))
    if unknown:
        raise ValueError(
            f"EmbeddingCache.encode does not take {unknown}: they may change the embeddings and are not part of "
            f"the cache key. Supported: prompt, prompt_name, normalize_embeddings, {list(HARMLESS_KWARGS + KEYED_KWARGS)}."
        )
    if isinstance(encode_kwargs.get("device"), (list, tuple)):
        types = {torch.device(d).type for d in encode_kwargs["device"]}
        if len(types) != 1:
            raise ValueError(f"EmbeddingCache keys embeddings by device type; got several: {sorted(types)}.")
    return {k: v for k, v in encode_kwargs.items() if k not in FIXED_KWARGS}


def _unique(pairs: list[tuple[bytes, str]]) -> list[tuple[bytes, str]]:
    return list(dict(pairs).items())


def _finish(vectors: list[np.ndarray], normalize: bool, model, variant: dict) -> np.ndarray:
    if not vectors:
        dim = variant["truncate_dim"] or model.get_embedding_dimension()
        return np.zeros((0, min(dim, model.get_embedding_dimension())), dtype=np.float32)
    stacked = np.stack(vectors).astype(np.float32)
    if normalize:
        stacked /= np.maximum(np.linalg.norm(stacked, axis=1, keepdims=True), 1e-12)
    return stacked
