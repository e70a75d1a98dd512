"""Evaluation results for a model card: read the mteb result files ``inbedder evaluate`` writes, and turn
them into the card's table and into ``model-index`` entries (huggingface_hub ``EvalResult``).

The card takes its numbers from these files, never from code: pass the run's output folder
(``OUTPUT`` with ``results/<model>/<revision>/``) or one ``results/<model>/<revision>/`` folder itself.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

# Keys of a score entry that are not metrics.
NOT_METRICS = {"main_score", "hf_subset", "languages", "mteb_version"}
# When several metrics equal the main score (STS: spearman == cosine_spearman), the first of these wins.
PREFERRED_METRICS = ("cosine_spearman", "v_measure", "success_rate", "accuracy", "ndcg_at_10", "map", "max_ap")
# Task type by main metric, for tasks that are not in mteb's registry or this package's paper tasks
# (the dev tasks are built from local files, so their metadata is not available everywhere).
TASK_TYPE_BY_METRIC = {"v_measure": "Clustering", "success_rate": "Triplet", "cosine_spearman": "STS"}


@dataclass(frozen=True)
class TaskScore:
    """One (task, subset) main score, 0-1 scale, with what model-index needs to describe it."""

    task: str
    subset: str  # "default" for a task without subsets
    split: str
    metric: str
    value: float
    task_type: str
    dataset: str  # a hub dataset id where the task has one, else the task name
    dataset_revision: str | None


@dataclass
class Evaluation:
    model_name: str  # the mteb ModelMeta name the run was filed under
    model_revision: str
    mteb_version: str
    scores: list[TaskScore]
    table: list[tuple[str, str, float]]  # (task, subset or derived row such as "HM(a, b)", score 0-1)
    source: str  # the folder read, for error messages
    raw: dict[str, dict[str, Any]] = field(repr=False, default_factory=dict)


def read_evaluation(path: str | Path) -> Evaluation:
    """Read an ``inbedder evaluate`` output folder, or one ``results/<model>/<revision>/`` folder of it."""
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(
            f"Evaluation results {str(path)!r} is not a folder (pass the --output of `inbedder evaluate`)."
        )
    metas = (
        [path / "model_meta.json"]
        if (path / "model_meta.json").is_file()
        else sorted(path.glob("results/*/*/model_meta.json"))
    )
    if not metas:
        raise FileNotFoundError(
            f"No mteb results in {str(path)!r}: expected model_meta.json or results/<model>/<revision>/."
        )
    if len(metas) > 1:
        choices = [str(m.parent) for m in metas]
        raise ValueError(f"{str(path)!r} holds results of {len(metas)} models; pass one of these folders: {choices}.")
    folder = metas[0].parent
    meta = json.loads(metas[0].read_text(encoding="utf-8"))
    raw = {}
    for file in sorted(folder.glob("*.json")):
        data = json.loads(file.read_text(encoding="utf-8"))
        if file.name != "model_meta.json" and isinstance(data, dict) and "scores" in data and "task_name" in data:
            raw[data["task_name"]] = data
    if not raw:
        raise FileNotFoundError(f"{str(folder)!r} has a model_meta.json but no task result files.")
    from mteb_tasks.robustness import parse_variant_name

    # Robustness variants (the same task under 30 other instructions) feed dci/dii in the table only.
    scores = [score for name, result in raw.items() if not parse_variant_name(name) for score in _task_scores(result)]
    return Evaluation(
        model_name=str(meta.get("name")),
        model_revision=str(meta.get("revision")),
        mteb_version=str(next(iter(raw.values())).get("mteb_version", "unknown")),
        scores=scores,
        table=_table_rows(raw),
        source=str(folder),
        raw=raw,
    )


def eval_results(evaluation: Evaluation):
    """``model-index`` entries: one per (task, subset), scores x100 like MTEB's own model cards."""
    from huggingface_hub import EvalResult

    return [
        EvalResult(
            task_type=score.task_type,
            dataset_type=score.dataset,
            dataset_name=f"{score.task} ({score.subset})" if score.subset != "default" else score.task,
            dataset_config=score.subset,
            dataset_split=score.split,
            dataset_revision=score.dataset_revision,
            metric_type=score.metric,
            metric_name=score.metric,
            metric_value=round(100 * score.value, 2),
        )
        for score in evaluation.scores
    ]


def _task_scores(result: dict[str, Any]) -> list[TaskScore]:
    name = result["task_name"]
    info = _known_task(name)
    scores = []
    for split, entries in result["scores"].items():
        for entry in entries:
            value = entry.get("main_score")
            if not isinstance(value, (int, float)) or math.isnan(value):
                raise ValueError(f"Result of task {name!r} (split {split!r}) has no numeric main_score.")
            metric = info["metric"] if info else _main_metric(entry)
            scores.append(
                TaskScore(
                    task=name,
                    subset=entry.get("hf_subset", "default"),
                    split=split,
                    metric=metric,
                    value=float(value),
                    task_type=info["type"] if info else TASK_TYPE_BY_METRIC.get(metric, "Other"),
                    dataset=info["dataset"] if info else name,
                    dataset_revision=result.get("dataset_revision"),
                )
            )
    return scores


def _main_metric(entry: dict[str, Any]) -> str:
    """The metric whose value is the main score (mteb's result files store the value, not the name)."""
    equal = [
        key
        for key, value in entry.items()
        if key not in NOT_METRICS
        and not key.endswith("_std")
        and isinstance(value, (int, float))
        and value == entry["main_score"]
    ]
    for preferred in PREFERRED_METRICS:
        if preferred in equal:
            return preferred
    return equal[0] if equal else "main_score"


def _known_task(name: str) -> dict[str, str] | None:
    """Type, main metric and dataset id of a task this package or mteb's registry defines statically; None for
    a task neither knows (a dev task, a user's own), whose metric is then read from the result file."""
    import mteb

    from mteb_tasks.suites import PAPER_TASKS_BY_NAME

    if name in PAPER_TASKS_BY_NAME:
        metadata = PAPER_TASKS_BY_NAME[name].metadata
    else:
        try:
            metadata = mteb.get_task(name).metadata
        except KeyError:  # mteb's answer for a name it does not register
            logger.info("Task %r is not in mteb's registry; its main metric is inferred from its result file.", name)
            return None
    return {"type": metadata.type, "metric": metadata.main_score, "dataset": metadata.dataset["path"]}


def _table_rows(raw: dict[str, dict[str, Any]]) -> list[tuple[str, str, float]]:
    from mteb_tasks.aggregate import summary_rows

    return [(row.task, row.subset, row.score) for row in summary_rows(raw)]
