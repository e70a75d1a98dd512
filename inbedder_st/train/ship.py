"""Ship a training run's LoRA adapter as the package's default fine-tuning (fp16 safetensors, a few MB)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from inbedder_st import default


def ship_adapter(run_dir: str | Path, target: Path = default.ADAPTER_DIR, dtype: torch.dtype = torch.float16) -> Path:
    """Copy ``run_dir/adapter`` into ``target`` with weights cast to ``dtype``, plus the run's recipe."""
    run_dir = Path(run_dir)
    weights = load_file(run_dir / "adapter" / "adapter_model.safetensors")
    config = json.loads((run_dir / "adapter" / "adapter_config.json").read_text())
    config["base_model_name_or_path"] = default.BACKBONE_NAME  # not the trainer's local cache path
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    save_file({name: tensor.to(dtype).contiguous() for name, tensor in weights.items()}, target / "adapter_model.safetensors")
    (target / "adapter_config.json").write_text(json.dumps(config, indent=2))
    shutil.copy(run_dir / "training_recipe.json", target / "training_recipe.json")
    return target
