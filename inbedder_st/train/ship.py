"""Ship a training run's LoRA adapter as the package's default fine-tuning (fp16 safetensors, a few MB)."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from inbedder_st import default
from inbedder_st.lora import stack_adapters


def ship_adapter(run_dir: str | Path, target: Path = default.ADAPTER_DIR, dtype: torch.dtype = torch.float16,
                 on_top_of: str | Path | None = None) -> Path:  # fmt: skip
    """Copy ``run_dir/adapter`` into ``target`` with weights cast to ``dtype``, plus the run's recipe.

    ``on_top_of``: the adapter folder the run was trained on top of (``--base default``: the shipped adapter);
    both are written as one adapter of their summed rank (``lora.stack_adapters``), and the recipe keeps the
    first one's under ``"on_top_of"``.
    """
    run_dir = Path(run_dir)
    recipe = json.loads((run_dir / "training_recipe.json").read_text())
    with tempfile.TemporaryDirectory() as scratch:
        adapter = run_dir / "adapter"
        if on_top_of is not None:
            on_top_of = Path(on_top_of)
            recipe["on_top_of"] = json.loads((on_top_of / "training_recipe.json").read_text())
            adapter = stack_adapters(on_top_of, adapter, Path(scratch) / "stacked")
        weights = load_file(adapter / "adapter_model.safetensors")
        config = json.loads((adapter / "adapter_config.json").read_text())
    config["base_model_name_or_path"] = default.BACKBONE_NAME  # not the trainer's local cache path
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    save_file({name: tensor.to(dtype).contiguous() for name, tensor in weights.items()}, target / "adapter_model.safetensors")
    (target / "adapter_config.json").write_text(json.dumps(config, indent=2))
    (target / "training_recipe.json").write_text(json.dumps(recipe, indent=2))
    return target
