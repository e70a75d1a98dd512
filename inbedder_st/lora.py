"""Merge a peft LoRA adapter (adapter_config.json + adapter_model.safetensors) into a model's weights.

Done by hand rather than through peft at load time: the merge is W += (alpha / r) * B @ A per layer, which
takes a fraction of a second, while wrapping and unwrapping the model with peft costs several seconds.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch
from safetensors.torch import load_file

PEFT_PREFIX = "base_model.model."


@torch.no_grad()
def merge_lora(model, adapter_dir: str | Path):
    """Add the adapter's low-rank updates to ``model`` in place and return it."""
    adapter_dir = Path(adapter_dir)
    config = json.loads((adapter_dir / "adapter_config.json").read_text())
    if config.get("peft_type", "LORA") != "LORA" or config.get("use_dora"):
        raise ValueError(f"{adapter_dir} is not a plain LoRA adapter (peft_type={config.get('peft_type')}).")
    rank, alpha = config["r"], config["lora_alpha"]
    scale = alpha / math.sqrt(rank) if config.get("use_rslora") else alpha / rank
    weights = load_file(adapter_dir / "adapter_model.safetensors")
    modules = dict(model.named_modules())
    merged = 0
    for key, lora_a in weights.items():
        if not key.endswith(".lora_A.weight"):
            continue
        name = key[: -len(".lora_A.weight")].removeprefix(PEFT_PREFIX)
        lora_b = weights[key.replace(".lora_A.", ".lora_B.")]
        if name not in modules:
            raise ValueError(f"Adapter layer {name!r} does not exist in {type(model).__name__}.")
        layer = modules[name]
        layer.weight += (scale * lora_b.float() @ lora_a.float()).to(layer.weight.dtype)
        merged += 1
    if merged == 0:
        raise ValueError(f"No LoRA weights found in {adapter_dir}.")
    return model
