"""From mteb results to the numbers the paper reports, and a results table across models.

- Dual-aspect tasks (two subsets, e.g. IntentEmotion emotion/intent) get the harmonic mean of their
  subsets; NYT gets the harmonic mean of NYTTopicClustering and NYTLocationClustering.
- Instruction awareness (the paper's "Avg"): the mean of IntentEmotion HM, NYT HM and InstructSTSB
  Spearman, x100 (we do not round each score to 4 digits first, as the paper's script does).
- Robustness: dci/dii of tasks whose variants were run (see ``robustness.py``).
- Triplet suites (two or more dual-aspect triplet tasks): the mean HM with its standard error and the lowest
  aspect accuracy, the figures a checkpoint is picked on. 100 triplets per aspect measure an accuracy to
  about +-5 points, so a mean of six HMs moves by about 1.5 points between equally good models.
Scores in tables are x100 with two decimals.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mteb.results import TaskResult

from mteb_tasks.robustness import parse_variant_name, robustness_scores

HARMONIC_PAIRS = {"NYTClustering": ("NYTTopicClustering", "NYTLocationClustering")}
INSTRUCTION_AWARENESS = "Instruction awareness (paper Avg)"
MEAN_TRIPLET_HM = "Mean triplet HM"
LOWEST_TRIPLET_ASPECT = "Lowest triplet aspect accuracy"
MISSING = "-"


@dataclass(frozen=True)
class Row:
    task: str
    subset: str  # "" for a task without subsets; "HM(a, b)", "dci", "dii" for derived rows
    score: float  # 0-1 scale (dci/dii are differences of such scores)


def harmonic_mean(a: float, b: float) -> float:
    """The paper's: 2 / (1/(a+1e-8) + 1/(b+1e-8))."""
    return 2 / (1 / (a + 1e-8) + 1 / (b + 1e-8))


def main_scores(result: TaskResult | Mapping[str, Any], split: str = "test") -> dict[str, float]:
    """{hf subset: main score} of one task's result (a TaskResult or its JSON as a dict)."""
    return {entry["hf_subset"]: float(entry["main_score"]) for entry in _entries(result, split)}


def summary_rows(results: Mapping[str, TaskResult | Mapping[str, Any]]) -> list[Row]:
    """Per-task rows, harmonic means, dci/dii and the instruction-awareness average, in that order."""
    scores = {name: main_scores(result) for name, result in results.items()}
    rows: list[Row] = []
    harmonic: dict[str, float] = {}
    for name, subsets in scores.items():
        if parse_variant_name(name):
            continue  # variants only feed dci/dii
        rows += [Row(name, "" if subset == "default" else subset, score) for subset, score in subsets.items()]
        if len(subsets) == 2:
            (a, score_a), (b, score_b) = subsets.items()
            harmonic[name] = harmonic_mean(score_a, score_b)
            rows.append(Row(name, f"HM({a}, {b})", harmonic[name]))
    for pair, (first, second) in HARMONIC_PAIRS.items():
        if first in scores and second in scores:
            harmonic[pair] = harmonic_mean(_single(scores[first]), _single(scores[second]))
            rows.append(Row(pair, f"HM({first}, {second})", harmonic[pair]))
    single_scores = {name: _single(subsets) for name, subsets in scores.items() if len(subsets) == 1}
    for task, report in robustness_scores(single_scores).items():
        rows += [Row(task, "dci", report["dci"]), Row(task, "dii", report["dii"])]
    awareness = instruction_awareness(harmonic, single_scores)
    if awareness is not None:
        rows.append(Row(INSTRUCTION_AWARENESS, "", awareness))
    return rows + triplet_suite_rows(results)


def triplet_suite_rows(results: Mapping[str, TaskResult | Mapping[str, Any]]) -> list[Row]:
    """Mean HM of the dual-aspect triplet tasks (those whose subsets report ``n_triplets``), its standard
    error, and the lowest aspect accuracy; nothing for fewer than two such tasks.

    The standard error treats each aspect's accuracy as a binomial proportion over its triplets and
    propagates it through the harmonic mean (delta method), tasks independent."""
    tasks = []
    for name, result in results.items():
        entries = _entries(result)
        if parse_variant_name(name) or len(entries) != 2 or not all("n_triplets" in entry for entry in entries):
            continue
        tasks.append([(float(entry["main_score"]), int(entry["n_triplets"])) for entry in entries])
    if len(tasks) < 2:
        return []
    means, variances = [], []
    for (a, n_a), (b, n_b) in tasks:
        means.append(harmonic_mean(a, b))
        if a + b == 0:
            variances.append(0.0)
            continue
        d_a, d_b = 2 * b * b / (a + b) ** 2, 2 * a * a / (a + b) ** 2  # d HM / d a, d HM / d b
        variances.append(d_a**2 * a * (1 - a) / n_a + d_b**2 * b * (1 - b) / n_b)
    k = len(tasks)
    return [
        Row(MEAN_TRIPLET_HM, f"mean of {k} tasks", sum(means) / k),
        Row(MEAN_TRIPLET_HM, "standard error", sum(variances) ** 0.5 / k),
        Row(LOWEST_TRIPLET_ASPECT, "", min(score for task in tasks for score, _ in task)),
    ]


def _entries(result: TaskResult | Mapping[str, Any], split: str = "test") -> list[Mapping[str, Any]]:
    """The score entries (one per hf subset) of ``split``, else of the result's first split."""
    scores = result["scores"] if isinstance(result, Mapping) else result.scores
    return list(scores[split] if split in scores else next(iter(scores.values())))


def instruction_awareness(harmonic: Mapping[str, float], single_scores: Mapping[str, float]) -> float | None:
    parts = [harmonic.get("IntentEmotion"), harmonic.get("NYTClustering"), single_scores.get("InstructSTSBenchmark")]
    return None if None in parts else sum(parts) / len(parts)


# ----- tables across models ------------------------------------------------------------------------
def results_table(results_by_model: Mapping[str, Mapping[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """Header and rows: Task, Subset, then one column of x100 scores per model."""
    columns = list(results_by_model)
    cells: dict[tuple[str, str], dict[str, float]] = {}
    for model, results in results_by_model.items():
        for row in summary_rows(results):
            cells.setdefault((row.task, row.subset), {})[model] = row.score
    header = ["Task", "Subset", *columns]
    body = [
        [task, subset, *(_percent(values.get(model)) for model in columns)] for (task, subset), values in cells.items()
    ]
    return header, body


def to_markdown(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---", "---"] + ["---:"] * (len(header) - 2)) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def to_csv(header: list[str], rows: list[list[str]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([header, *rows])
    return out.getvalue()


def write_results_table(
    results_by_model: Mapping[str, Mapping[str, Any]], markdown_path: Path, csv_path: Path | None = None
) -> str:
    """Write the table as markdown (and CSV); returns the markdown."""
    header, rows = results_table(results_by_model)
    markdown = to_markdown(header, rows)
    Path(markdown_path).write_text(markdown, encoding="utf-8")
    if csv_path is not None:
        Path(csv_path).write_text(to_csv(header, rows), encoding="utf-8")
    return markdown


def read_results(folder: str | Path, task_names: list[str] | None = None) -> dict[str, dict[str, dict[str, Any]]]:
    """Results saved by ``mteb.evaluate(..., cache=ResultCache(folder))``: {model label: {task: result JSON}}.
    The model label is the ModelMeta name, with its experiment (e.g. ``instructions=prepend``) if any."""
    found: dict[str, dict[str, dict[str, Any]]] = {}
    for meta_path in sorted(Path(folder).glob("results/**/model_meta.json")):
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        label = _model_label(meta)
        for path in sorted(meta_path.parent.glob("*.json")):
            if path.name == meta_path.name:
                continue
            result = json.loads(path.read_text(encoding="utf-8"))
            if task_names is None or result.get("task_name") in task_names:
                found.setdefault(label, {})[result["task_name"]] = result
    if task_names is not None:  # keep the run's task order
        found = {label: {t: results[t] for t in task_names if t in results} for label, results in found.items()}
    return dict(sorted(found.items()))  # models by name: a stable column order


def _model_label(meta: Mapping[str, Any]) -> str:
    experiment = meta.get("experiment_kwargs") or {}
    details = ", ".join(f"{key}={value}" for key, value in sorted(experiment.items()))
    return f"{meta['name']} ({details})" if details else str(meta["name"])


def _single(subsets: Mapping[str, float]) -> float:
    return next(iter(subsets.values())) if len(subsets) == 1 else sum(subsets.values()) / len(subsets)


def _percent(value: float | None) -> str:
    return MISSING if value is None else f"{100 * value:.2f}"
