"""An on-disk embedding cache: a repeated (model, instruction, text) is read back instead of re-encoded.

The key holds everything that determines an embedding:
- the model: a fingerprint of every weight (bytes, dtype, shape; quantised weights by their integer values and
  scales), the module structure (``str(model)``: a quantised Linear differs from a float one), each module's
  config (InBedder: family, template, pooling, layer, max_length, generation and filter settings, default
  instruction), the backbone's transformers config, the tokenizer, the device type, the package versions
  (inbedder-st, torch, transformers, sentence-transformers) and a hash of inbedder_st's own source;
- the call's variant: the instruction the model will read (``prompt`` / ``prompt_name`` / the model's
  ``default_prompt_name`` resolved by sentence-transformers' rules, then an InBedder's default instruction for a
  missing one), the dimension embeddings are truncated to, and the device type computing them;
- the text (its UTF-8 bytes).
Anything else (batch size, padding, batch composition) cannot change an embedding (DESIGN.md, decision 3).
``encode`` arguments that would change the output and are not in the key (``output_value``, ``precision``,
``convert_to_tensor``, ``pool``, model-specific keyword arguments) are refused with an error naming them.

Layout: ``ROOT/<model key>/<variant key>/<pack>.npz``. A pack holds the embeddings one ``encode`` call
computed: ``keys`` (a 20-byte BLAKE2b digest per text), ``vectors`` (float32) and a SHA-256 ``checksum`` over
both and the two directory keys. Packs are written to a temporary file and renamed into place
(``os.replace``), so a reader never sees half a pack; a pack that fails to load, has inconsistent shapes or a
wrong checksum is reported (a warning), deleted, and its texts are encoded again.

Size: ``20 + 4 * dim`` bytes per embedding (2,324 B for the default's 576 dimensions; 2.3 MB per 1,000 texts
per instruction) plus about 1 KB per pack and a few hundred bytes of JSON per model and instruction.
``size_bytes()`` measures a cache, ``clear()`` empties it. Weight changes made in place are noticed (each
tensor's version counter is part of the memo that saves re-hashing the weights on every call).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import uuid
import weakref
import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from inbedder_st.inputs import check_texts
from inbedder_st.prompts import effective_instruction, resolve_prompt

logger = logging.getLogger(__name__)

TEXT_DIGEST_BYTES = 20
PACK_SUFFIX = ".npz"
SOURCE_ROOT = Path(__file__).resolve().parent

_weights_memo: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_source_hash: str | None = None


# ----- keys ------------------------------------------------------------------------------------------
def text_digest(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=TEXT_DIGEST_BYTES).digest()


def instruction_key(variant: dict | str | None) -> str:
    """The folder name of a variant (``CallVariant.as_dict()``; a bare instruction string is keyed as itself)."""
    return hashlib.sha256(json.dumps(variant, sort_keys=True).encode("utf-8")).hexdigest()[:32]


def _tensor_bytes(tensor: torch.Tensor) -> bytes:
    tensor = tensor.detach().cpu()
    if tensor.is_quantized:
        scales = tensor.q_per_channel_scales() if tensor.qscheme() in _PER_CHANNEL else torch.tensor(tensor.q_scale())
        return _tensor_bytes(tensor.int_repr()) + _tensor_bytes(scales)
    return tensor.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()


_PER_CHANNEL = (torch.per_channel_affine, torch.per_channel_symmetric)


def _hash_state(digest, name: str, value) -> None:
    """Feed one state_dict entry (a tensor, or the tuples and dtypes quantised modules store) to ``digest``."""
    digest.update(name.encode())
    if torch.is_tensor(value):
        digest.update(f"{value.dtype}{tuple(value.shape)}".encode())
        digest.update(_tensor_bytes(value))
    elif isinstance(value, (tuple, list)):
        for index, item in enumerate(value):
            _hash_state(digest, f"{name}[{index}]", item)
    else:
        digest.update(repr(value).encode())


def _weights_stamp(model) -> tuple:
    """Cheap to compute, and changes whenever a weight is replaced or modified in place."""
    return tuple(
        (name, t.data_ptr(), t._version, t.dtype, tuple(t.shape))
        for name, t in model.state_dict(keep_vars=True).items()
        if torch.is_tensor(t) and not t.is_quantized
    ) + (str(model),)


def weights_fingerprint(model) -> str:
    """BLAKE2b over every state_dict entry and the module structure, memoised per model and weights stamp."""
    stamp = _weights_stamp(model)
    memo = _weights_memo.get(model)
    if memo and memo[0] == stamp:
        return memo[1]
    digest = hashlib.blake2b(digest_size=20)
    digest.update(str(model).encode())
    for name, value in model.state_dict().items():
        _hash_state(digest, name, value)
    for module in model.modules():  # the tokenizers: the same weights read other ids under another vocabulary
        tokenizer = getattr(module, "tokenizer", None)
        if tokenizer is not None:
            backend = getattr(tokenizer, "backend_tokenizer", None)
            digest.update((backend.to_str() if backend else json.dumps(sorted(tokenizer.get_vocab().items()))).encode())
    fingerprint = digest.hexdigest()
    _weights_memo[model] = (stamp, fingerprint)
    return fingerprint


def source_hash() -> str:
    """A hash of inbedder_st's Python source: a code change may change embeddings, so it starts a new cache."""
    global _source_hash
    if _source_hash is None:
        digest = hashlib.sha256()
        for path in sorted(SOURCE_ROOT.rglob("*.py")):
            digest.update(str(path.relative_to(SOURCE_ROOT)).encode() + path.read_bytes())
        _source_hash = digest.hexdigest()[:20]
    return _source_hash


def model_description(model) -> dict:
    """The inputs of the model key, readable (saved as model.json beside the packs)."""
    from importlib.metadata import PackageNotFoundError, version

    def package(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "absent"

    modules = []
    for module in model.children() if hasattr(model, "children") else []:
        config = module.get_config_dict() if hasattr(module, "get_config_dict") else {}
        modules.append({"class": f"{type(module).__module__}.{type(module).__qualname__}", "config": config})
    configs = {id(m.config): m.config for m in model.modules() if hasattr(getattr(m, "config", None), "to_json_string")}
    backbone_configs = [config.to_json_string(use_diff=False) for config in configs.values()]
    device = next((p.device.type for p in model.parameters()), "cpu")
    return {
        "modules": modules,
        "backbone_configs": [hashlib.sha256(c.encode()).hexdigest()[:20] for c in backbone_configs],
        "weights": weights_fingerprint(model),
        "device": device,
        "versions": {
            name: package(name) for name in ("inbedder-st", "torch", "transformers", "sentence-transformers")
        },
        "source": source_hash(),
    }


def model_key(model) -> tuple[str, dict]:
    description = model_description(model)
    blob = json.dumps(description, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:32], description


# ----- packs -----------------------------------------------------------------------------------------
def _checksum(keys: np.ndarray, vectors: np.ndarray, model: str, instruction: str) -> str:
    digest = hashlib.sha256(f"{model}/{instruction}/{keys.shape}/{vectors.shape}".encode())
    digest.update(np.ascontiguousarray(keys).tobytes())
    digest.update(np.ascontiguousarray(vectors).tobytes())
    return digest.hexdigest()


class CorruptPack(ValueError):
    pass


def read_pack(path: Path, model: str, instruction: str) -> tuple[np.ndarray, np.ndarray]:
    """(keys [N, 20] uint8, vectors [N, dim] float32), or CorruptPack."""
    try:
        with np.load(path, allow_pickle=False) as pack:
            keys, vectors, checksum = pack["keys"], pack["vectors"], str(pack["checksum"])
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error) as error:
        # truncated zip, garbage bytes (numpy refuses to unpickle them), a missing member, a bad CRC
        raise CorruptPack(f"unreadable ({type(error).__name__}: {error})") from None
    if keys.dtype != np.uint8 or keys.ndim != 2 or keys.shape[1] != TEXT_DIGEST_BYTES:
        raise CorruptPack(f"keys have shape {keys.shape} and dtype {keys.dtype}")
    if vectors.dtype != np.float32 or vectors.ndim != 2 or vectors.shape[0] != keys.shape[0]:
        raise CorruptPack(f"vectors have shape {vectors.shape} and dtype {vectors.dtype} for {keys.shape[0]} keys")
    if checksum != _checksum(keys, vectors, model, instruction):
        raise CorruptPack("checksum mismatch")
    return keys, vectors


def write_pack(folder: Path, keys: np.ndarray, vectors: np.ndarray, model: str, instruction: str) -> Path:
    """Write to a temporary file in the same folder, then rename: readers see a whole pack or none."""
    folder.mkdir(parents=True, exist_ok=True)
    name = uuid.uuid4().hex
    temporary, final = folder / f".{name}.tmp", folder / f"{name}{PACK_SUFFIX}"
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    try:
        with open(temporary, "wb") as f:
            np.savez(f, keys=keys, vectors=vectors, checksum=np.array(_checksum(keys, vectors, model, instruction)))
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, final)
    finally:
        temporary.unlink(missing_ok=True)
    return final


def _write_json_once(path: Path, content: dict) -> None:
    if path.is_file():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{uuid.uuid4().hex}.tmp")
    temporary.write_text(json.dumps(content, indent=1, sort_keys=True, default=str), encoding="utf-8")
    os.replace(temporary, path)


# ----- the cache -------------------------------------------------------------------------------------
class EmbeddingCache:
    """``cache.encode(model, texts, prompt=...)``: ``model.encode`` with finished embeddings read from disk."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self.hits = 0
        self.misses = 0

    def __repr__(self) -> str:
        return f"EmbeddingCache({str(self.root)!r})"

    def folder(self, model_id: str, variant: dict) -> Path:
        return self.root / model_id / instruction_key(variant)

    def lookup(self, model_id: str, variant: dict, digests: Sequence[bytes]) -> dict[bytes, np.ndarray]:
        """The stored vectors of the wanted digests; corrupt packs are deleted with a warning."""
        folder, wanted, found = self.folder(model_id, variant), set(digests), {}
        if not folder.is_dir():
            return found
        for path in sorted(folder.glob(f"*{PACK_SUFFIX}")):
            try:
                keys, vectors = read_pack(path, model_id, instruction_key(variant))
            except CorruptPack as error:
                logger.warning(
                    "Embedding cache: %s is corrupt (%s); deleting it, its texts are encoded again.", path, error
                )
                path.unlink(missing_ok=True)
                continue
            for key, vector in zip(keys, vectors):
                digest = key.tobytes()
                if digest in wanted:
                    found[digest] = vector
        return found

    def store(self, model_id: str, variant: dict, digests: Sequence[bytes], vectors: np.ndarray) -> None:
        if not len(digests):
            return
        folder = self.folder(model_id, variant)
        _write_json_once(folder / "instruction.json", variant)
        keys = np.frombuffer(b"".join(digests), dtype=np.uint8).reshape(len(digests), TEXT_DIGEST_BYTES)
        write_pack(folder, keys, vectors, model_id, instruction_key(variant))

    def _model_id(self, model) -> str:
        if getattr(model[0], "pooling", None) == "answer_sparse":
            raise ValueError(
                "The embedding cache stores dense vectors; answer_sparse embeddings are vocabulary-sized and are not "
                "cached. Encode them directly, or cache the dense answer_dist readout."
            )
        model_id, description = model_key(model)
        _write_json_once(self.root / model_id / "model.json", description)
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
        shutil.rmtree(self.root, ignore_errors=True)


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


def call_variant(model, prompt: str | None, encode_kwargs: dict) -> dict:
    """The per-call part of the key: the instruction the model reads, the output dimension and the device type."""
    truncate_dim = encode_kwargs.get("truncate_dim")
    if truncate_dim is None:
        truncate_dim = getattr(model, "truncate_dim", None)
    device = encode_kwargs.get("device")
    if isinstance(device, (list, tuple)):
        device = device[0]
    device_type = torch.device(device).type if device is not None else next((p.device.type for p in model.parameters()), "cpu")
    return {"instruction": effective_instruction(model, prompt), "truncate_dim": truncate_dim, "device": device_type}


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
