"""Export an instruction head for the Hub: the saved folder with a card whose usage code loads ``model_id``.

``inbedder_st.hub.export`` / ``push`` (and ``inbedder export`` / ``push``) call this for a head, so a head is
published the same way as an InBedder.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from inbedder_st.heads.card import head_card
from inbedder_st.heads.model import head_info, save_head

# Export options that describe an InBedder's weights or training and mean nothing for a head.
NOT_FOR_HEADS = ("adapter", "adapter_base", "title", "datasets", "base_model", "recipe", "results",
                 "results_command", "limitations")  # fmt: skip


def export_head(
    model,
    folder: str | Path,
    *,
    model_id: str | None = None,
    license: str | None = None,
    language: list[str] | None = None,
    weights: str = "merged",
    dtype: str | None = None,
    overwrite: bool = False,
    **others: Any,
):
    """Write the head to ``folder`` (which must be empty, or an earlier export with ``overwrite``)."""
    from huggingface_hub import ModelCard

    from inbedder_st.hub.exporting import Exported, _prepare

    started = time.monotonic()
    info = head_info(model)
    refused = sorted(key for key, value in others.items() if value is not None and key in NOT_FOR_HEADS)
    unknown = sorted(key for key in others if key not in NOT_FOR_HEADS)
    if unknown:
        raise TypeError(f"export of an instruction head got unexpected options {unknown}.")
    given = refused + (["weights"] if weights != "merged" else []) + (["dtype"] if dtype not in (None, "float32") else [])
    if given:
        raise ValueError(
            f"{given} do not apply to an instruction head (its base and Dense weights are exported as they are, in "
            "float32); a head takes model_id, license and language."
        )
    folder = Path(folder)
    card = head_card(info, model_id=model_id, license=license, language=language)
    _prepare(folder, overwrite)
    save_head(model, folder, card=card)
    files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    size = sum((folder / name).stat().st_size for name in files)
    return Exported(folder=folder, files=files, size_bytes=size, weights="merged", card=ModelCard(card),
                    seconds=time.monotonic() - started)  # fmt: skip
