"""A training run's evaluated steps (``inbedder train --keep-evaluated``): list them, and save one as a model.

The trainer saves the step with the lowest internal validation loss, and that loss does not rank steps on the
held-out-wording split (README, run 11). With ``--keep-evaluated`` every evaluated step's trainable weights stay
in ``OUTPUT/evaluated/step-N``, so steps can be scored on that split afterwards and the chosen one saved as a model.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from pathlib import Path

from safetensors.torch import load_file, save_file

EVALUATED = "evaluated"
_PEFT_ADAPTER_NAME = re.compile(r"\.(lora_[AB])\.default\.")  # trainer's key -> adapter_model.safetensors key


def evaluated_folder(run_dir: str | Path, step: int) -> Path:
    """Where a ``keep_evaluated`` run keeps step ``step``'s trainable weights and metrics."""
    return Path(run_dir) / EVALUATED / f"step-{step}"


def evaluated_steps(run_dir: str | Path) -> dict[int, dict]:
    """Step -> its metrics (eval and validation losses) for every step kept in ``run_dir/evaluated``."""
    steps = {}
    for folder in (Path(run_dir) / EVALUATED).glob("step-*"):
        steps[int(folder.name.removeprefix("step-"))] = json.loads((folder / "state.json").read_text())
    return dict(sorted(steps.items()))


def export_step(run_dir: str | Path, step: int, target: str | Path, device: str = "cpu") -> Path:
    """Save step ``step`` of a ``--keep-evaluated`` run (its folder ``run_dir``) as a model folder ``target``.

    LoRA runs: the saved model's merged adapter is taken out and the step's merged in (equal to the step's adapter
    merged onto the base, up to float rounding), and ``target/adapter`` holds the step's adapter. Full fine-tuning:
    the step's weights replace the saved model's. The recipe gains ``"exported_step"`` (the step and its metrics).
    """
    import inbedder_st
    from inbedder_st.lora import merge_lora

    run_dir, target = Path(run_dir), Path(target)
    steps = evaluated_steps(run_dir)
    if step not in steps:
        kept = sorted(steps) or "none (train with --keep-evaluated)"
        raise ValueError(f"{run_dir} has no evaluated step {step}; steps kept: {kept}")
    if target.exists() and (target.resolve() == run_dir.resolve() or any(target.iterdir())):
        raise ValueError(f"{target} is not empty: export a step to a new folder")
    weights = load_file(evaluated_folder(run_dir, step) / "trainable.safetensors")
    model = inbedder_st.load_model(str(run_dir), device=device)
    backbone = model[0].model
    with tempfile.TemporaryDirectory() as scratch:
        adapter = None
        if (run_dir / "adapter").is_dir():
            adapter = Path(scratch) / "adapter"
            adapter.mkdir()
            shutil.copy(run_dir / "adapter" / "adapter_config.json", adapter)
            renamed = {_PEFT_ADAPTER_NAME.sub(r".\1.", name): w for name, w in weights.items()}
            save_file(renamed, adapter / "adapter_model.safetensors")
            merge_lora(backbone, run_dir / "adapter", weight=-1.0)
            merge_lora(backbone, adapter)
        else:
            parameters = dict(backbone.named_parameters())
            unknown = sorted(set(weights) - set(parameters))
            if unknown:
                raise ValueError(f"{run_dir}: step {step} holds weights this model does not have, e.g. {unknown[:3]}")
            backbone.load_state_dict({name: w.to(parameters[name].dtype) for name, w in weights.items()}, strict=False)
        model.save(str(target))
        if adapter is not None:
            shutil.copytree(adapter, target / "adapter")
    recipe_file = run_dir / "training_recipe.json"
    recipe = json.loads(recipe_file.read_text(encoding="utf-8")) if recipe_file.is_file() else {}
    recipe["exported_step"] = {"step": step, **steps[step]}
    (target / "training_recipe.json").write_text(json.dumps(recipe, indent=2), encoding="utf-8")
    return target
