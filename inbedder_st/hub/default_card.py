"""Card fields of the shipped default model, read from ``model_cards/default/`` and the shipped adapter's
training recipe: its numbers come from the files its training and evaluation runs wrote."""

from __future__ import annotations

import json

from inbedder_st.hub.card import CardFields

CARD_FILE = "card.json"
PATH_FIELDS = ("results",)  # relative to model_cards/default/
PATH_MAPS = ("baselines",)  # {label: path relative to model_cards/default/}


def is_shipped_default(module) -> bool:
    from inbedder_st import default

    return module.backbone == default.FINE_TUNED_NAME


def default_card_fields() -> CardFields:
    import model_cards
    from inbedder_st import default

    folder = model_cards.default_dir()
    data = json.loads((folder / CARD_FILE).read_text(encoding="utf-8"))
    data = {key: value for key, value in data.items() if not key.startswith("_")}  # "_note" keys document the file
    for key in PATH_FIELDS:
        if data.get(key):
            data[key] = folder / data[key]
    for key in PATH_MAPS:
        data[key] = {label: folder / path for label, path in (data.get(key) or {}).items()}
    data["recipe"] = default.ADAPTER_DIR / "training_recipe.json"
    return CardFields.from_kwargs(**data)
