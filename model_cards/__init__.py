"""Model-card templates for models exported or pushed to the Hugging Face Hub by ``inbedder_st.hub``.

This folder is a (data-only) package so that installed users get the templates too: ``pyproject.toml`` lists
it beside ``inbedder_st`` and ships its ``*.md`` / ``*.json`` files as package data, and the exporter finds
them with ``importlib.resources`` instead of a path relative to a source checkout.

- ``inbedder.md``: the Jinja template of every InBedder card (YAML front matter, usage, details, recipe,
  evaluation, limitations, citation).
- ``default/``: what the shipped default's card needs besides the model itself: ``card.json`` (base model,
  training datasets and their licences) and ``dev_results/`` (the mteb result files of its dev-suite run;
  ``default/README.md`` names the command that wrote them).
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

TEMPLATE_NAME = "inbedder.md"


def folder() -> Path:
    """The installed ``model_cards`` folder (a real directory: setuptools installs package data as files)."""
    return Path(str(files(__name__)))


def template_path(name: str = TEMPLATE_NAME) -> Path:
    path = folder() / name
    if not path.is_file():
        available = sorted(p.name for p in folder().glob("*.md"))
        raise FileNotFoundError(f"No model-card template {name!r} in {folder()}. Valid choices: {available}.")
    return path


def default_dir() -> Path:
    """Card data of the shipped default model."""
    return folder() / "default"
