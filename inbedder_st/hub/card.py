"""The model card (README.md) of an exported InBedder: YAML metadata + the ``model_cards/inbedder.md`` template.

Everything the card states comes from the model itself (its module config and prompts), the training recipe
file ``inbedder train`` writes, and the mteb result files ``inbedder evaluate`` writes -- no number is typed in.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from inbedder_st.hub.results import Evaluation, eval_results, read_evaluation

logger = logging.getLogger(__name__)

TAGS = ["sentence-transformers", "sentence-similarity", "feature-extraction", "inbedder", "instruction-following"]
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
POOLING_DESCRIPTIONS = {
    "fst_gen": "the last prompt token's state, which predicts the first answer token; one forward pass, no generation",
    "avg_gen": "mean of the state predicting the first answer token and the kept states of a generated answer",
    "last_gen": "the last kept state of a generated answer",
    "avg_ppt": "mean of the prompt states without the last one",
    "avg_all": "mean of the prompt states and the kept states of a generated answer",
    "answer_dist": "the first-answer-token state read through the LM head: the answer-token embedding expected "
    "under the model's next-token distribution (E^T p)",
    "answer_sparse": "the first-answer-token state read through the LM head: the square root of the model's "
    "next-token distribution over the vocabulary, its top-k entries kept, L2-normalised (a sparse vector)",
}
# Where the non-causal families read their states differently from the causal descriptions above.
FAMILY_POOLING_DESCRIPTIONS = {
    ("masked", "avg_gen"): "mean of the states at the mask tokens appended after the prompt, where the answer is read",
    ("masked", "avg_ppt"): "mean of the prompt states without the mask and end tokens",
    ("masked", "avg_all"): "mean of all token states, masks included",
    ("seq2seq", "fst_gen"): "the decoder state that predicts the first answer token; one decoder step, no generation",
    ("seq2seq", "avg_ppt"): "mean of the encoder states over the prompt",
}
# How the summary sentence of the card says where the embedding comes from.
FAMILY_READOUTS = {
    "causal": "the hidden state that predicts the first word of its answer is the embedding",
    "masked": "the embedding is read at mask tokens where the model fills in its answer",
    "seq2seq": "the embedding comes from the decoder states that produce its answer",
}
FAMILY_NAMES = {"causal": "causal (decoder-only)", "masked": "masked", "seq2seq": "encoder-decoder"}
METRIC_NOTES = {
    "success_rate": "success rate: the share of triplets with cos(anchor, positive) > cos(anchor, negative), "
    "where the positive shares the asked aspect with the anchor and the negative shares the other one",
    "v_measure": "V-measure of k-means clusters (as many as labels) against the labels",
    "cosine_spearman": "Spearman correlation of cosine similarity with the gold scores",
    "harmonic mean": "harmonic mean of the two subsets' scores (both aspects must be followed)",
}
BASE_LIMITATIONS = [
    "An embedding answers the instruction it was made under: compare texts embedded under the same instruction. "
    "The method works best for questions with short answers (emotion, topic, intent, entity type), since the "
    "embedding is the state that predicts the answer's first token.",
    "Texts longer than the maximum length are cut at their end (the instruction is always kept), and the count "
    "is logged.",
    "Loading needs `pip install inbedder-st` and `trust_remote_code=True` (or `inbedder_st.load_model`; see Usage).",
]


@dataclass
class CardFields:
    """What a caller can tell the card beyond the model itself (``export(..., **card_fields)``)."""

    model_id: str | None = None  # "org/name" on the Hub; the usage code loads this
    title: str | None = None
    description: str | None = None  # an extra paragraph under the title
    base_model: str | None = None  # hub id of the model the weights derive from
    datasets: list[str] = field(default_factory=list)  # hub ids of the training data
    license: str | None = None
    language: list[str] = field(default_factory=lambda: ["en"])
    tags: list[str] = field(default_factory=list)
    recipe: str | Path | dict | None = None  # training_recipe.json of `inbedder train`, or its content
    results: str | Path | None = None  # `inbedder evaluate --output` folder (or one results/<model>/<rev>/ of it)
    baselines: dict[str, str | Path] = field(default_factory=dict)  # column label -> evaluation folder
    results_command: str | None = None  # the command that produced `results`, shown in the card
    limitations: list[str] = field(default_factory=list)  # added to the general ones
    data_attribution: list[str] = field(default_factory=list)  # markdown lines: training data and licences

    @classmethod
    def from_kwargs(cls, **kwargs: Any) -> CardFields:
        names = [f.name for f in fields(cls)]
        unknown = sorted(set(kwargs) - set(names))
        if unknown:
            raise TypeError(f"Unknown card field(s) {unknown}. Valid choices: {names}.")
        made = cls(**kwargs)
        for name in ("datasets", "language", "tags", "limitations", "data_attribution"):
            value = getattr(made, name)
            if isinstance(value, str):
                setattr(made, name, [value])
            elif not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise TypeError(f"Card field {name!r} must be a list of strings, got {value!r}.")
        return made

    def merged_over(self, defaults: CardFields) -> CardFields:
        """These fields, falling back to ``defaults`` where a field was left at its empty default."""
        blank = CardFields()
        return CardFields(
            **{
                f.name: getattr(defaults if getattr(self, f.name) == getattr(blank, f.name) else self, f.name)
                for f in fields(self)
            }
        )


@dataclass
class CardContext:
    """Facts about the exported files that the model itself does not know."""

    model_id: str  # what the usage code loads: the hub id, or the local folder
    weights: str  # "merged" or "adapter"
    dtype: str
    adapter_base: str | None = None


def build_card(model, card_fields: CardFields, context: CardContext):
    """The ``huggingface_hub.ModelCard`` of ``model``; its metadata is validated by huggingface_hub."""
    from huggingface_hub import ModelCard

    evaluation = read_evaluation(card_fields.results) if card_fields.results else None
    metadata = card_metadata(model, card_fields, context, evaluation)
    text = render_template(template_variables(model, card_fields, context, evaluation), metadata.to_yaml())
    return ModelCard(text)


def card_metadata(model, card_fields: CardFields, context: CardContext, evaluation: Evaluation | None):
    from huggingface_hub import ModelCardData

    base_model = card_fields.base_model or _hub_id(model[0].backbone)
    if not card_fields.license:
        logger.warning(
            "No license given for the model card; it says 'unknown'. Pass license=... (e.g. the base model's)."
        )
    extra = {"base_model_relation": "adapter" if context.weights == "adapter" else "finetune"} if base_model else {}
    return ModelCardData(
        library_name="sentence-transformers",
        pipeline_tag="sentence-similarity",
        tags=TAGS + [t for t in card_fields.tags if t not in TAGS],
        base_model=base_model,
        datasets=card_fields.datasets or None,
        license=card_fields.license or "unknown",
        language=card_fields.language or None,
        model_name=_title(card_fields, context),
        eval_results=eval_results(evaluation) if evaluation else None,
        **extra,
    )


def template_variables(model, card_fields: CardFields, context: CardContext, evaluation: Evaluation | None) -> dict:
    import sentence_transformers
    import transformers

    import inbedder_st

    module = model[0]
    prompts = {name: text for name, text in (model.prompts or {}).items() if text and text.strip()}
    generation = None
    if module.pooling in ("avg_gen", "last_gen", "avg_all"):
        sampling = (
            f"sampling (temperature {module.temperature}, top-p {module.top_p}, seed {module.seed})"
            if module.do_sample
            else "greedy"
        )
        generation = f"{module.max_new_tokens} new tokens, {sampling}" + (
            ", stopwords filtered" if module.filter_stopwords else ""
        )
    weights = {
        "merged": f"full weights ({context.dtype} safetensors; any fine-tuning merged in)",
        "adapter": f"LoRA adapter only, applied at load to `{context.adapter_base}`",
    }[context.weights]
    return {
        "title": _title(card_fields, context),
        "description": card_fields.description,
        "model_id": context.model_id,
        "weights": context.weights,
        "weights_description": weights,
        "adapter_base": context.adapter_base,
        "example_instruction": prompts.get("emotion", "How does the customer feel?"),
        "example_prompt_name": next(iter(prompts), None),
        "dimension": module.get_embedding_dimension(),
        "default_instruction": module.default_instruction,
        "family": FAMILY_NAMES.get(module.family, module.family),
        "n_parameters": f"{sum(p.numel() for p in module.model.parameters()) / 1e6:.1f}M",
        "backbone": module.backbone or "unknown",
        "base_model": card_fields.base_model or _hub_id(module.backbone),
        "pooling": module.pooling,
        "sparse": module.pooling == "answer_sparse",
        "top_k": module.answer_top_k,
        "pooling_description": FAMILY_POOLING_DESCRIPTIONS.get(
            (module.family, module.pooling), POOLING_DESCRIPTIONS.get(module.pooling, module.pooling)
        ),
        "readout": FAMILY_READOUTS.get(module.family, FAMILY_READOUTS["causal"]),
        "layer": "the last layer" if module.layer_index == module.num_layers else f"layer {module.layer_index}",
        "template": module.template,
        "max_length": module.max_length,
        "generation": generation,
        "prompts": prompts,
        "recipe": recipe_rows(_read_recipe(card_fields.recipe)) if card_fields.recipe else None,
        "data_attribution": card_fields.data_attribution,
        "evaluation": evaluation_block(evaluation, card_fields) if evaluation else None,
        "limitations": BASE_LIMITATIONS + card_fields.limitations,
        "package_version": inbedder_st.__version__,
        "st_version": sentence_transformers.__version__,
        "transformers_version": transformers.__version__,
    }


def render_template(variables: dict, card_data_yaml: str) -> str:
    import jinja2

    import model_cards

    environment = jinja2.Environment(
        trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined, keep_trailing_newline=True
    )
    template = environment.from_string(model_cards.template_path().read_text(encoding="utf-8"))
    return template.render(card_data=card_data_yaml, **variables)


# ----- training recipe ------------------------------------------------------------------------------
def _read_recipe(recipe: str | Path | dict) -> dict:
    if isinstance(recipe, dict):
        return recipe
    path = Path(recipe)
    if path.is_dir():
        path = path / "training_recipe.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"Cannot read the training recipe {str(path)!r}: {error}") from None


def recipe_rows(recipe: dict) -> dict[str, str]:
    """The recipe of ``inbedder train`` (training_recipe.json) as the card's table cells."""
    config, result, mix = recipe.get("config", {}), recipe.get("result", {}), recipe.get("mix", {})
    if config.get("lora", True):
        targets = ", ".join(config.get("lora_targets") or [])
        method = (
            f"LoRA r={config.get('lora_r')}, alpha={config.get('lora_alpha')}, dropout {config.get('lora_dropout')}"
            + (f" on {targets}" if targets else "")
            + "; loss on answer tokens + EOS only"
        )
    else:
        method = "full fine-tuning; loss on answer tokens + EOS only"
    per_source = mix.get("trained_per_source") or {}
    sources = ", ".join(f"{name} {count:,}" for name, count in sorted(per_source.items(), key=lambda kv: -kv[1]))
    data = f"{result.get('train_records', '?'):,} training + {result.get('eval_records', '?'):,} held-out QA records"
    data += f" ({sources})" if sources else ""
    answers = mix.get("answers") or {}
    examples = []
    if answers.get("mean_answer_tokens") is not None:
        examples.append(f"mean answer length {answers['mean_answer_tokens']:.2f} tokens after stopword removal")
    if mix.get("dropped_too_long"):
        examples.append(
            f"{mix['dropped_too_long']:,} records left out because their passage exceeds {config.get('max_length')} tokens"
        )
    batch = config.get("batch_size", 1) * config.get("grad_accum", 1)
    optimisation = (
        f"{result.get('steps', '?')} steps of {batch} examples (batch {config.get('batch_size')} x accumulation "
        f"{config.get('grad_accum')}), lr {config.get('learning_rate')}, warmup ratio {config.get('warmup_ratio')}, "
        f"cosine schedule, weight decay {config.get('weight_decay')}, max length {config.get('max_length')} tokens"
    )
    eval_loss = "not measured"
    if result.get("eval_loss_before") is not None and result.get("eval_loss_after") is not None:
        eval_loss = f"{result['eval_loss_before']:.2f} before -> {result['eval_loss_after']:.2f} after training"
    compute = None
    if result.get("seconds"):
        compute = f"{result['seconds'] / 60:.0f} min" + (
            f", {result['tokens_per_second']:.0f} tokens/s" if result.get("tokens_per_second") else ""
        )
    return {
        "base": recipe.get("base", "unknown"),
        "method": method,
        "data": data,
        "examples": "; ".join(examples) or "-",
        "optimisation": optimisation,
        "eval_loss": eval_loss,
        "compute": compute,
        "seed": str(config.get("seed", "-")),
    }


# ----- evaluation ---------------------------------------------------------------------------------------
def evaluation_block(evaluation: Evaluation, card_fields: CardFields) -> dict:
    baselines = {label: read_evaluation(path) for label, path in card_fields.baselines.items()}
    metrics = {(s.task, s.subset if s.subset != "default" else ""): s.metric for s in evaluation.scores}
    columns = ["this model", *baselines]
    others = [{(task, subset): score for task, subset, score in b.table} for b in baselines.values()]
    rows = []
    for task, subset, score in evaluation.table:
        cells = [_percent(score)] + [_percent(other.get((task, subset))) for other in others]
        rows.append(
            {"task": task, "subset": subset or "-", "metric": _row_metric(metrics, task, subset), "cells": cells}
        )
    command = card_fields.results_command or "inbedder evaluate"
    intro = (
        f"Measured with `{command}` (mteb {evaluation.mteb_version}; results filed as `{evaluation.model_name}`, "
        f"revision `{evaluation.model_revision}`). Scores x100."
    )
    if baselines:
        intro += (
            " Other columns: "
            + "; ".join(f"{label}: `{b.model_name}`" for label, b in baselines.items())
            + ", same tasks."
        )
    used = {row["metric"] for row in rows}
    notes = "; ".join(note for metric, note in METRIC_NOTES.items() if metric in used)
    return {
        "intro": intro,
        "columns": columns,
        "rows": rows,
        "notes": (notes[0].upper() + notes[1:] + ".") if notes else "",
    }


def _row_metric(metrics: dict, task: str, subset: str) -> str:
    if subset.startswith("HM("):
        return "harmonic mean"
    if subset in ("dci", "dii"):
        return subset
    return metrics.get((task, subset), "mean")


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f}"


def _title(card_fields: CardFields, context: CardContext) -> str:
    return card_fields.title or (card_fields.model_id or Path(context.model_id).name).split("/")[-1]


def _hub_id(name: str | None) -> str | None:
    """``name`` if it looks like a hub model id (org/name), else None (local paths, descriptive names)."""
    return name if name and HUB_ID.match(name) and not Path(name).exists() else None
