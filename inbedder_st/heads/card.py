"""The model card (README.md) of an instruction head: YAML metadata and what the head does, from its HeadInfo."""

from __future__ import annotations

from inbedder_st.heads.model import HeadInfo

TAGS = ["sentence-transformers", "sentence-similarity", "feature-extraction", "inbedder", "instruction-head"]
SCORE_NOTES = {
    "cv_cosine": "5-fold cross-validated cosine between the head's output and the teacher's (centred) embedding",
    "held_out_cosine": "cosine between the head's output and its target on the fifth of the sample held out",
    "ridge_strength": "ridge penalty chosen by that cross-validation (x trace(X'X)/dim)",
    "held_out_agreement_base": "Spearman agreement of pairwise cosines with the teacher's, base model alone, "
    "on 20% of the sample held out from fitting",
    "held_out_agreement_head": "the same with the head",
    "grouped_share": "share of the sample whose answer joined a group (the texts the head was fitted on)",
}


def head_card(
    info: HeadInfo, model_id: str | None = None, license: str | None = None, language: list[str] | None = None
) -> str:
    from huggingface_hub import ModelCardData

    model_id = model_id or "path/to/this/folder"
    data = ModelCardData(
        library_name="sentence-transformers",
        pipeline_tag="sentence-similarity",
        tags=TAGS,
        base_model=info.base if "/" in info.base and not info.base.startswith(("/", ".")) else None,
        license=license,
        language=language or ["en"],
    )
    scores = "\n".join(
        f"| {key} | {value} | {SCORE_NOTES.get(key, '')} |" for key, value in info.fit_scores.items()
    )
    groups = ""
    if info.answer_groups:
        top = ", ".join(f"{name!r} ({count})" for name, count in list(info.answer_groups.items())[:12])
        groups = f"\nAnswer groups the head was fitted to separate ({len(info.answer_groups)}; largest first): {top}.\n"
    teacher_weights = f" (weights fingerprint {info.teacher_weights[:12]})" if info.teacher_weights else ""
    if info.kind == "identity":
        return _identity_card(info, data, model_id)
    layers = "one `Dense` layer" if info.kind == "linear" else "two `Dense` layers (GELU between them)"
    return f"""---
{data.to_yaml()}
---

# Instruction head: {info.instruction}

A generic embedder ({info.base}) with a small head that makes its embeddings follow one instruction,
**"{info.instruction}"**, the way an [InBedder](https://arxiv.org/abs/2402.09642) teacher ({info.teacher}) does.
Made with [inbedder-st](https://pypi.org/project/inbedder-st/) (`inbedder head fit`).

The texts are embedded **as they are, without the instruction**: the head is the instruction. The model is a plain
sentence-transformers model: the base model's modules, {layers} ({info.base_dim} -> {info.dim}) and `Normalize`.

## Usage

```python
from sentence_transformers import SentenceTransformer

model = SentenceTransformer("{model_id}")  # no trust_remote_code, no extra package
embeddings = model.encode(["first text", "second text"])  # no prompt: the head answers "{info.instruction}"
print(model.similarity(embeddings, embeddings))
```

Texts already embedded with {info.base} (e.g. in a vector store) need no re-encoding:
`inbedder_st.heads.apply_heads(base_embeddings, ["{model_id}"])` multiplies them by the head.

## How it was fitted

- Teacher: {info.teacher}{teacher_weights}, under the instruction above ({info.objective} objective: {_objective(info)}).
- Sample: {info.sample_size} distinct texts (seed {info.seed}); {info.kind} head; {info.fit_seconds} s.
{groups}
| fit score | value | meaning |
|---|---:|---|
{scores}

## Limitations

- One head answers one instruction; another instruction needs another head (or the InBedder itself).
- The head knows only what the base embedding encodes about the texts and what the sample showed it: texts
  unlike the sample, or aspects the base model does not represent, are followed less well than by the teacher.
- Embeddings from different heads (different instructions) are not comparable with each other.
"""


def _objective(info: HeadInfo) -> str:
    if info.objective == "embedding":
        return "regression onto the teacher's normalised, centred embeddings"
    return "texts whose generated answers agree are pulled together (LDA-like projection onto the answer groups)"


def _identity_card(info: HeadInfo, data, model_id: str) -> str:
    return f"""---
{data.to_yaml()}
---

# Identity head: {info.instruction}

{info.base} itself, declared to answer **"{info.instruction}"** in a set of instruction heads made with
[inbedder-st](https://pypi.org/project/inbedder-st/): nothing was fitted. Use it for an instruction that asks
what a generic embedder already encodes (what the text is about), so that a head set routes that instruction to
the base model explicitly rather than by a silent fallback.

```python
from sentence_transformers import SentenceTransformer

model = SentenceTransformer("{model_id}")
embeddings = model.encode(["first text", "second text"])
```
"""
