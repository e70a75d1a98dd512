"""Loading settings for the paper's released checkpoints (reference sections 2 and 4).

The hub repos hold plain transformers models (no InBedder config), so the family, template, pooling,
layer and generation settings that the paper evaluated them with live here. ``load_model`` applies them
when it is given one of these ids; options passed by the caller win.
"""

from __future__ import annotations

QA = "qa"  # every released InBedder was trained and evaluated with the QA order

PAPER_CHECKPOINTS: dict[str, dict] = {
    # roberta-large: 24 layers, avg_gen_layer_24 (the mean of the 3 mask states) as in demos/similarity.ipynb.
    "BrandonZYW/roberta-large-InBedder": dict(family="masked", template=QA, pooling="avg_gen", layer=-1, mask_length=3),
    # OPT configs: greedy, 20 new tokens; fst_gen at the last layer does not depend on generation.
    "BrandonZYW/opt-1.3b-InBedder": dict(family="causal", template=QA, pooling="fst_gen", layer=-1, max_new_tokens=20),
    "BrandonZYW/opt-2.7b-InBedder": dict(family="causal", template=QA, pooling="fst_gen", layer=-1, max_new_tokens=20),
    # Llama-2-7b: the README's fst_gen_layer_32; sampling 0.6/0.9, 3 new tokens, seed 42 (used for answers).
    "BrandonZYW/llama-2-7b-InBedder": dict(
        family="causal", template=QA, pooling="fst_gen", layer=-1, max_new_tokens=3, do_sample=True,
        temperature=0.6, top_p=0.9, seed=42,
    ),  # fmt: skip
    # The UseCase notebook's roberta: a text pair "<s> text </s></s> instruction <mask>x3 </s>" and the
    # LM-head transform of the mask states, standardised.
    "KomeijiForce/inbedder-roberta-large": dict(
        family="masked", template="{input}</s></s>{instruction}", pooling="avg_gen", layer=-1, mask_length=3,
        lm_head_transform=True,
    ),  # fmt: skip
}


def paper_settings(name_or_path: str) -> dict:
    """The paper's settings for a released checkpoint id (case-insensitive), or {} for anything else."""
    lowered = {name.lower(): settings for name, settings in PAPER_CHECKPOINTS.items()}
    return dict(lowered.get(str(name_or_path).lower(), {}))
