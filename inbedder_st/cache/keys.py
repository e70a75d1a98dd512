"""The embedding cache's keys: what determines an embedding, hashed.

- the model (``model_key``): a fingerprint of every weight (bytes, dtype, shape; quantised weights by their
  integer values and scales), the module structure (``str(model)``: a quantised Linear differs from a float
  one), each module's config (InBedder: family, template, pooling, layer, max_length, generation and filter
  settings, default instruction), the backbone's transformers config, the tokenizer, the device type, the
  package versions (inbedder-st, torch, transformers, sentence-transformers) and a hash of inbedder_st's own
  source;
- the call's variant (``call_variant``): the instruction the model will read (``prompt`` / ``prompt_name`` /
  the model's ``default_prompt_name`` resolved by sentence-transformers' rules, then an InBedder's default
  instruction for a missing one), the dimension embeddings are truncated to, and the device type computing them;
- the text (``text_digest``: its UTF-8 bytes).
Anything else (batch size, padding, batch composition) cannot change an embedding: padding is masked and
positions come from the mask, so a text embeds the same alone or in any batch.

Weight changes made in place are noticed: each tensor's version counter is part of the memo that saves
re-hashing the weights on every call.
"""

from __future__ import annotations

import hashlib
import json
import weakref
from pathlib import Path

import torch

from inbedder_st.prompts import effective_instruction

TEXT_DIGEST_BYTES = 20
SOURCE_ROOT = Path(__file__).resolve().parents[1]  # the inbedder_st package

_weights_memo: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_source_hash: str | None = None


def text_digest(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=TEXT_DIGEST_BYTES).digest()


def instruction_key(variant: dict | str | None) -> str:
    """The folder name of a variant (``call_variant``'s dict; a bare instruction string is keyed as itself)."""
    return hashlib.sha256(json.dumps(variant, sort_keys=True).encode("utf-8")).hexdigest()[:32]


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


_PER_CHANNEL = (torch.per_channel_affine, torch.per_channel_symmetric)


def _tensor_bytes(tensor: torch.Tensor) -> bytes:
    tensor = tensor.detach().cpu()
    if tensor.is_quantized:
        scales = tensor.q_per_channel_scales() if tensor.qscheme() in _PER_CHANNEL else torch.tensor(tensor.q_scale())
        return _tensor_bytes(tensor.int_repr()) + _tensor_bytes(scales)
    return tensor.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()


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
