"""A head as a plain SentenceTransformer: the base model's modules, then ``Dense`` layer(s) and ``Normalize``.

Nothing here is custom code at load time: the saved folder holds sentence-transformers' own module types
(``Dense`` with a torch activation, ``Normalize``), safetensors weights, the head's description in
``inbedder_head.json`` (instruction, teacher, base, sample size, fit scores: data, read by this package and
ignored by sentence-transformers) and a model card. ``SentenceTransformer(folder)`` loads it without
``trust_remote_code`` and without importing this package.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from inbedder_st.heads.solve import Layer

HEAD_FILE = "inbedder_head.json"
FORMAT = "inbedder-head/1"
ACTIVATIONS = {"identity": "Identity", "gelu": "GELU"}  # torch.nn classes: loadable without trust_remote_code


@dataclass
class HeadInfo:
    """What a head is for and how it was fitted; saved as ``inbedder_head.json`` beside the model."""

    instruction: str
    teacher: str  # the InBedder whose embeddings / answers the head learned
    base: str  # the generic embedder the head sits on
    base_modules: int  # the first ``base_modules`` modules are the base model's, the rest the head's
    base_dim: int
    dim: int
    kind: str  # "linear" | "mlp" | "identity" (the base model's embedding, declared to answer the instruction)
    objective: str  # "embedding" | "answers" | "none" (identity)
    sample_size: int
    seed: int
    fit_scores: dict[str, float] = field(default_factory=dict)
    answer_groups: dict[str, int] = field(default_factory=dict)  # objective="answers": group -> texts
    fit_seconds: float = 0.0
    stage_seconds: dict[str, float] = field(default_factory=dict)  # teacher, base, solve, scores
    # inbedder_st.cache.weights_fingerprint of the teacher: two versions of the default share one name
    teacher_weights: str = ""
    format: str = FORMAT

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "") -> HeadInfo:
        if data.get("format") != FORMAT:
            raise ValueError(f"{where or 'head info'}: format {data.get('format')!r} is not {FORMAT!r}.")
        known = set(cls.__dataclass_fields__)
        return cls(**{key: value for key, value in data.items() if key in known})


def head_modules(layers: list[Layer]) -> list:
    """``Dense`` per layer (torch activations), then ``Normalize``."""
    import torch
    from sentence_transformers.base.modules import Dense, Normalize

    modules = []
    for layer in layers:
        out_features, in_features = layer.weight.shape
        activation = getattr(torch.nn, ACTIVATIONS[layer.activation])()
        modules.append(
            Dense(
                in_features,
                out_features,
                bias=True,
                activation_function=activation,
                init_weight=torch.as_tensor(layer.weight, dtype=torch.float32),
                init_bias=torch.as_tensor(layer.bias, dtype=torch.float32),
            )
        )
    return [*modules, Normalize()]


def build_head_model(base, layers: list[Layer], info: HeadInfo):
    """A SentenceTransformer: ``base``'s modules (shared, not copied) + the head; ``info`` rides along as
    ``model.head_info`` and is written by ``save_head``."""
    from sentence_transformers import SentenceTransformer

    base_modules = [base[i] for i in range(len(base))]
    model = SentenceTransformer(modules=[*base_modules, *head_modules(layers)], device=str(base.device))
    model.head_info = info
    model.similarity_fn_name = "cosine"
    return model


def save_head(model, folder: str | Path, card: str | None = None) -> Path:
    """``model.save(folder)`` (safetensors), then ``inbedder_head.json`` and the card (README.md)."""
    info = head_info(model)
    folder = Path(folder)
    model.save(str(folder), create_model_card=False)
    (folder / HEAD_FILE).write_text(info.to_json(), encoding="utf-8")
    if card is None:
        from inbedder_st.heads.card import head_card

        card = head_card(info)
    (folder / "README.md").write_text(card, encoding="utf-8")
    return folder


def load_head(folder: str | Path, **options: Any):
    """``SentenceTransformer(folder)`` with its ``head_info`` attached (the same model a plain load gives)."""
    from sentence_transformers import SentenceTransformer

    info = read_head_info(folder)
    model = SentenceTransformer(str(folder), **options)
    if len(model) <= info.base_modules:
        raise ValueError(f"{folder}: {len(model)} modules, but {HEAD_FILE} says the base alone has {info.base_modules}.")
    model.head_info = info
    return model


def is_head_folder(folder: str | Path) -> bool:
    return os.path.isfile(os.path.join(folder, HEAD_FILE)) and os.path.isfile(os.path.join(folder, "modules.json"))


def read_head_info(folder: str | Path) -> HeadInfo:
    path = Path(folder) / HEAD_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{folder} is not an instruction head folder (no {HEAD_FILE}).")
    return HeadInfo.from_dict(json.loads(path.read_text(encoding="utf-8")), str(path))


def head_info(model) -> HeadInfo:
    info = getattr(model, "head_info", None)
    if not isinstance(info, HeadInfo):
        raise TypeError(
            f"{type(model).__name__} is not an instruction head (no head_info): make one with fit_head() or "
            "load one with load_head(folder)."
        )
    return info


def head_layers(model) -> list[Layer]:
    """The head's Dense layers as numbers (for ``apply_heads`` on precomputed base embeddings)."""
    from sentence_transformers.base.modules import Dense, Normalize

    info = head_info(model)
    layers = []
    for module in [model[i] for i in range(info.base_modules, len(model))]:
        if isinstance(module, Dense):
            name = type(module.activation_function).__name__
            activation = next((key for key, cls in ACTIVATIONS.items() if cls == name), None)
            if activation is None:
                raise ValueError(f"Head {info.instruction!r}: unsupported activation {name} in its Dense layer.")
            layers.append(
                Layer(
                    module.linear.weight.detach().cpu().numpy(),
                    module.linear.bias.detach().cpu().numpy()
                    if module.linear.bias is not None
                    else np.zeros(module.out_features, dtype=np.float32),
                    activation,
                )
            )
        elif not isinstance(module, Normalize):
            raise ValueError(f"Head {info.instruction!r}: unexpected module {type(module).__name__} after the base.")
    return layers


def read_head_layers(folder: str | Path) -> tuple[HeadInfo, list[Layer]]:
    """The head's layers straight from a saved folder's Dense weights, without loading the base model."""
    from safetensors.numpy import load_file

    folder = Path(folder)
    info = read_head_info(folder)
    entries = json.loads((folder / "modules.json").read_text(encoding="utf-8"))
    layers = []
    for entry in entries[info.base_modules :]:
        kind = entry["type"].rsplit(".", 1)[-1]
        if kind == "Normalize":
            continue
        if kind != "Dense":
            raise ValueError(f"{folder}: unexpected module {entry['type']} after the base in modules.json.")
        config = json.loads((folder / entry["path"] / "config.json").read_text(encoding="utf-8"))
        weights = load_file(str(folder / entry["path"] / "model.safetensors"))
        name = config.get("activation_function", "").rsplit(".", 1)[-1]
        activation = next((key for key, cls in ACTIVATIONS.items() if cls == name), None)
        if activation is None:
            raise ValueError(f"{folder}/{entry['path']}: unsupported activation {config.get('activation_function')!r}.")
        bias = weights.get("linear.bias", np.zeros(config["out_features"], dtype=np.float32))
        layers.append(Layer(weights["linear.weight"], bias, activation))
    if not layers and info.kind != "identity":
        raise ValueError(f"{folder}: no Dense layer after the base model's {info.base_modules} modules.")
    return info, layers
