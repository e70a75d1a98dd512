"""``export``: write a complete, loadable model folder with its model card.

- ``weights="merged"``: sentence-transformers' own files (modules.json, config_sentence_transformers.json
  with the prompts), the backbone's safetensors weights with any fine-tuning merged in, the tokenizer and
  ``inbedder_config.json``. Self-contained: ``SentenceTransformer(folder, trust_remote_code=True)``.
- ``weights="adapter"``: the same files, but a LoRA adapter (``adapter_config.json`` +
  ``adapter_model.safetensors``) instead of full weights. transformers loads such a folder by loading the
  base model named in ``adapter_config.json`` and applying the adapter (through peft), so the same
  ``SentenceTransformer(folder, trust_remote_code=True)`` call works wherever that base model can be loaded.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from inbedder_st.dtypes import resolve_dtype
from inbedder_st.hub.card import CardContext, CardFields, build_card
from inbedder_st.hub.default_card import default_card_fields, is_shipped_default

logger = logging.getLogger(__name__)

WEIGHT_FORMATS = ("merged", "adapter")
ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors")


@dataclass
class Exported:
    folder: Path
    files: list[str]  # paths relative to the folder, sorted
    size_bytes: int
    weights: str
    card: Any  # huggingface_hub.ModelCard
    seconds: float


def export(
    model,
    folder: str | Path,
    *,
    weights: str = "merged",
    dtype: str | torch.dtype | None = None,
    adapter: str | Path | None = None,
    adapter_base: str | None = None,
    overwrite: bool = False,
    **card_fields: Any,
) -> Exported:
    """Write ``model`` (an InBedderModel / SentenceTransformer with an InBedder first module) to ``folder``.

    - ``weights``: "merged" (full weights) or "adapter" (LoRA weights only; needs ``adapter``, a folder with
      adapter_config.json + adapter_model.safetensors, e.g. the ``adapter/`` of an ``inbedder train`` output).
    - ``adapter_base``: the base model the adapter applies to, as the exported adapter_config.json names it
      (a hub id for a model you publish, or a local folder); defaults to the adapter's own.
    - ``dtype``: weights on disk ("float16"/"bfloat16" halve the files; loading casts back to float32);
      default: as they are in memory.
    - ``overwrite``: replace a folder written by an earlier export (one with modules.json).
    - ``card_fields``: see ``CardFields`` (model_id, license, datasets, recipe, results, baselines, ...).

    The shipped default model gets its own card fields (recipe, dev-suite results, data licences) unless
    given; its adapter is the shipped one.
    """
    if getattr(model, "head_info", None) is not None:  # an instruction head: a plain SentenceTransformer
        from inbedder_st.heads.export import export_head

        return export_head(model, folder, weights=weights, dtype=dtype, adapter=adapter, adapter_base=adapter_base,
                           overwrite=overwrite, **card_fields)  # fmt: skip
    started = time.monotonic()
    if weights not in WEIGHT_FORMATS:
        raise ValueError(f"Unknown weights {weights!r}. Valid choices: {list(WEIGHT_FORMATS)}.")
    module = _inbedder_module(model)
    torch_dtype = resolve_dtype(dtype)
    fields = CardFields.from_kwargs(**card_fields)
    if is_shipped_default(module):
        fields = fields.merged_over(default_card_fields())
    adapter_dir = adapter_base_name = None
    if weights == "adapter":
        adapter_dir = _adapter_dir(module, adapter)
        adapter_base_name = _adapter_base(module, adapter_dir, adapter_base)
    elif getattr(module.model, "_hf_peft_config_loaded", False):
        raise ValueError("This model has a LoRA adapter attached (it was loaded from an adapter export); "
                         "export it with weights='adapter' and that adapter folder.")  # fmt: skip
    folder = Path(folder)
    dtype_name = str(torch_dtype or module.model.dtype).removeprefix("torch.")
    context = CardContext(
        model_id=fields.model_id or str(folder), weights=weights, dtype=dtype_name, adapter_base=adapter_base_name
    )
    card = build_card(model, fields, context)  # before writing anything: bad results or recipe files fail here

    _prepare(folder, overwrite)
    if weights == "merged":
        model.save(str(folder), create_model_card=False)
        if torch_dtype is not None and torch_dtype != module.model.dtype:
            _resave_weights(module.model, folder, torch_dtype)
    else:
        with _module_saves_adapter(module, adapter_dir, adapter_base_name, torch_dtype):
            model.save(str(folder), create_model_card=False)
    card.save(folder / "README.md")
    files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    size = sum((folder / f).stat().st_size for f in files)
    seconds = time.monotonic() - started
    logger.info(
        "Exported %d files (%.1f MB, %s weights) to %s in %.1f s", len(files), size / 1e6, weights, folder, seconds
    )
    return Exported(folder=folder, files=files, size_bytes=size, weights=weights, card=card, seconds=seconds)


def _inbedder_module(model):
    from inbedder_st.module import InBedder

    try:
        first = model[0]
    except (TypeError, IndexError, KeyError):
        first = None
    if not isinstance(first, InBedder):
        raise TypeError(
            f"export needs a SentenceTransformer whose first module is InBedder, got {type(model).__name__}."
        )
    return first


def _prepare(folder: Path, overwrite: bool) -> None:
    """An empty target: never mix a new export with stale files (an old model.safetensors beside an adapter)."""
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"Export target {str(folder)!r} is a file.")
    if folder.is_dir() and any(folder.iterdir()):
        if not overwrite:
            raise FileExistsError(
                f"Export target {str(folder)!r} is not empty; pass overwrite=True (--overwrite) to replace an earlier export."
            )
        if not (folder / "modules.json").is_file():
            raise FileExistsError(
                f"Refusing to overwrite {str(folder)!r}: it holds no earlier export (no modules.json)."
            )
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)


def _resave_weights(backbone, folder: Path, dtype: torch.dtype) -> None:
    """Rewrite the weights in ``dtype`` without touching the model in memory."""
    cast: dict[int, torch.Tensor] = {}  # by storage: tied weights (embeddings = LM head) stay one tensor
    state = {}
    for name, tensor in backbone.state_dict().items():
        key = tensor.untyped_storage().data_ptr()
        if key not in cast:
            cast[key] = tensor.to(dtype) if tensor.is_floating_point() else tensor
        state[name] = cast[key]
    backbone.save_pretrained(str(folder), state_dict=state)
    # save_pretrained records the in-memory dtype; record the one on disk (loading casts as asked anyway).
    config_path = folder / "config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config["dtype"] = str(dtype).removeprefix("torch.")
    config_path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")


# ----- adapter-only export ------------------------------------------------------------------------------
def _adapter_dir(module, adapter: str | Path | None) -> Path:
    from inbedder_st import default

    if adapter is None:
        if not is_shipped_default(module):
            raise ValueError("weights='adapter' needs adapter=<folder with adapter_config.json and adapter_model.safetensors> "
                             "(e.g. the adapter/ folder of an `inbedder train` output).")  # fmt: skip
        adapter = default.ADAPTER_DIR
    adapter = Path(adapter)
    missing = [name for name in ADAPTER_FILES if not (adapter / name).is_file()]
    if missing:
        raise FileNotFoundError(f"Adapter folder {str(adapter)!r} lacks {missing}.")
    config = json.loads((adapter / "adapter_config.json").read_text(encoding="utf-8"))
    if config.get("peft_type", "LORA") != "LORA":
        raise ValueError(f"{str(adapter)!r} is a {config.get('peft_type')} adapter; only LoRA adapters are exported.")
    return adapter


def _adapter_base(module, adapter_dir: Path, adapter_base: str | None) -> str:
    """The base model name written into the exported adapter_config.json; it must be loadable."""
    from inbedder_st import default
    from inbedder_st.hub.card import HUB_ID

    if adapter_base is None:
        adapter_base = json.loads((adapter_dir / "adapter_config.json").read_text(encoding="utf-8")).get(
            "base_model_name_or_path"
        )
        if adapter_base == default.BACKBONE_NAME:  # the shipped adapter: its base is the converted GGUF, local
            adapter_base = str(default.ensure_converted())
            logger.warning("The default's base model is a local conversion (%s): this adapter export loads on this "
                           "machine only. Pass adapter_base=<hub id> to publish it.", adapter_base)  # fmt: skip
    if not adapter_base or not ((Path(adapter_base) / "config.json").is_file() or HUB_ID.match(adapter_base)):
        raise ValueError(
            f"The adapter's base model {adapter_base!r} is neither a local model folder nor a hub id; "
            "pass adapter_base=<hub id or folder of the model the adapter was trained on>."
        )
    return adapter_base


@contextmanager
def _module_saves_adapter(module, adapter_dir: Path, adapter_base: str, dtype: torch.dtype | None):
    """Let sentence-transformers write its files as usual, with the InBedder module saving the adapter
    (plus tokenizer and module config) instead of the backbone's full weights."""

    def save_adapter(output_path: str, *args, **kwargs) -> None:
        output = Path(output_path)
        config = json.loads((adapter_dir / "adapter_config.json").read_text(encoding="utf-8"))
        config["base_model_name_or_path"] = adapter_base
        config["inference_mode"] = True
        (output / "adapter_config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
        if dtype is None:
            shutil.copyfile(adapter_dir / "adapter_model.safetensors", output / "adapter_model.safetensors")
        else:
            from safetensors.torch import load_file, save_file

            tensors = load_file(adapter_dir / "adapter_model.safetensors")
            save_file({k: v.to(dtype).contiguous() for k, v in tensors.items()}, output / "adapter_model.safetensors")
        module.tokenizer.save_pretrained(output_path)
        module.save_config(output_path)

    module.save = save_adapter  # an instance attribute shadows the method for this save only
    try:
        yield
    finally:
        del module.save
