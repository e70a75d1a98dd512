"""Merge a peft LoRA adapter (adapter_config.json + adapter_model.safetensors) into a model's weights.

Done by hand rather than through peft at load time: the merge is W += (alpha / r) * B @ A per layer, which
takes a fraction of a second, while wrapping and unwrapping the model with peft costs several seconds.
``stack_adapters`` writes two adapters, the second trained on the first's merged model, as one adapter of
their summed rank that merges to exactly the same weights.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

PEFT_PREFIX = "base_model.model."


@torch.no_grad()
def merge_lora(model, adapter_dir: str | Path, weight: float = 1.0):
    """Add the adapter's low-rank updates, times ``weight``, to ``model`` in place and return it (``weight=-1``
    takes out an adapter merged before, up to float rounding)."""
    adapter_dir = Path(adapter_dir)
    scale = weight * _scale(plain_lora_config(adapter_dir))
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


def plain_lora_config(adapter_dir: Path) -> dict:
    """The adapter's config, refused unless it is plain LoRA of one rank and alpha (what merging here applies)."""
    config = json.loads((adapter_dir / "adapter_config.json").read_text())
    if config.get("peft_type", "LORA") != "LORA" or config.get("use_dora"):
        raise ValueError(f"{adapter_dir} is not a plain LoRA adapter (peft_type={config.get('peft_type')}).")
    if any(config.get(key) for key in ("rank_pattern", "alpha_pattern")):
        raise ValueError(f"{adapter_dir} sets per-layer ranks or alphas (rank_pattern/alpha_pattern), which this merge does not apply.")
    return config


def _scale(config: dict) -> float:
    rank, alpha = config["r"], config["lora_alpha"]
    return alpha / math.sqrt(rank) if config.get("use_rslora") else alpha / rank


def stack_adapters(first_dir: str | Path, second_dir: str | Path, target: str | Path, dtype: torch.dtype = torch.float32) -> Path:
    """One adapter equal to ``first`` then ``second`` (trained on the model with ``first`` merged): per layer
    s1 B1 A1 + s2 B2 A2 = [s1 B1, s2 B2] [A1; A2], rank r1 + r2, alpha = rank (scale 1). Both must adapt the same layers."""
    first_dir, second_dir, target = Path(first_dir), Path(second_dir), Path(target)
    configs = [plain_lora_config(folder) for folder in (first_dir, second_dir)]
    weights = [load_file(folder / "adapter_model.safetensors") for folder in (first_dir, second_dir)]
    if set(weights[0]) != set(weights[1]):
        differing = sorted(set(weights[0]) ^ set(weights[1]))
        raise ValueError(f"{first_dir} and {second_dir} adapt different layers (e.g. {differing[0]!r}); cannot stack them.")
    scales = [_scale(config) for config in configs]
    stacked = {}
    for key in weights[0]:
        if key.endswith(".lora_A.weight"):
            stacked[key] = torch.cat([w[key].float() for w in weights], dim=0)
        elif key.endswith(".lora_B.weight"):
            stacked[key] = torch.cat([s * w[key].float() for s, w in zip(scales, weights)], dim=1)
        else:
            raise ValueError(f"{first_dir}: unexpected adapter tensor {key!r} (only lora_A/lora_B weights can be stacked).")
    rank = configs[0]["r"] + configs[1]["r"]
    config = {**configs[0], "r": rank, "lora_alpha": rank, "use_rslora": False}  # same layers: the first's targets hold
    target.mkdir(parents=True, exist_ok=True)
    save_file({key: value.to(dtype).contiguous() for key, value in stacked.items()}, target / "adapter_model.safetensors")
    (target / "adapter_config.json").write_text(json.dumps(config, indent=2))
    return target
