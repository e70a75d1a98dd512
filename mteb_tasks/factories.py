"""Turn a user's table into an mteb task (a fresh task class with declarative metadata, instantiated).

- :func:`dual_aspect_triplet_task`: a text column and two label columns -> IntentEmotion-style triplets,
  one subset per aspect, each with its own instruction.
- :func:`instruction_clustering_task`: a text column, a label column and an instruction -> KMeans V-measure.
- :func:`instruction_sts_task`: sentence pairs with a gold score under one instruction (or one per row).

The table is read when the task loads its data (``mteb.evaluate`` does that), sampled with the given seed.
Extra keyword arguments become TaskMetadata fields (``domains``, ``license``, ``reference``, ...); the
dataset revision is a fingerprint of the table and the sampling settings, so results record what was run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datasets import Dataset, DatasetDict
from mteb.abstasks.task_metadata import TaskMetadata

from mteb_tasks import tables
from mteb_tasks.abstask_clustering import AbsTaskInstructionClustering
from mteb_tasks.abstask_sts import AbsTaskInstructionSTS
from mteb_tasks.abstask_triplet import AbsTaskTriplet, TripletTaskMetadata
from mteb_tasks.sampling import cap_per_label, dual_aspect_triplets, sample_rows, unique_texts


@dataclass(frozen=True)
class Aspect:
    """One axis of a dual-aspect table: the label column and the instruction that asks about it.

    ``answers`` groups labels when the instruction asks a coarser question than the labels are (answer ->
    the labels it covers, "*" for all the others): triplets are then drawn on the answer.
    """

    label_column: str
    instruction: str
    answers: Mapping[str, Any] | None = field(default=None, hash=False)


@dataclass(frozen=True)
class TableSource:
    """Where a factory task's rows come from (kept on the class; read at load time)."""

    table: Any
    revision: str

    def rows(self) -> list[dict[str, Any]]:
        return tables.read_table(self.table)


def dual_aspect_triplet_task(
    name: str,
    table: tables.Table,
    *,
    aspects: dict[str, Aspect | tuple[str, str]],
    text_column: str = "text",
    n_triplets: int = 200,
    seed: int = 42,
    revision: str | None = None,
    description: str | None = None,
    languages: list[str] | None = None,
    **metadata: Any,
) -> AbsTaskTriplet:
    """``aspects`` maps a subset name to (label column, instruction); exactly two aspects."""
    aspects = {subset: aspect if isinstance(aspect, Aspect) else Aspect(*aspect) for subset, aspect in aspects.items()}
    if len(aspects) != 2:
        raise ValueError(f"Task {name!r}: a dual-aspect table needs exactly two aspects, got {list(aspects)}.")
    table = _materialize(table)
    columns = [text_column] + [aspect.label_column for aspect in aspects.values()]
    groups = {subset: aspect.answers for subset, aspect in aspects.items() if aspect.answers is not None}
    settings = (columns, n_triplets, seed, *groups.items())
    source = TableSource(table, revision or tables.fingerprint(tables.table_fingerprint(table), *settings))
    languages = languages or ["eng-Latn"]

    def read_dataset(self, num_proc=None):
        rows = source.rows()
        tables.require_columns(rows, columns, name)
        out = {}
        for subset in self.hf_subsets:
            other = next(a for s, a in aspects.items() if s != subset)
            triplets = dual_aspect_triplets(
                rows,
                text_column=text_column,
                asked_column=aspects[subset].label_column,
                other_column=other.label_column,
                n_triplets=n_triplets,
                seed=f"{seed}:{subset}",
                task_name=name,
                asked_answers=aspects[subset].answers,
            )
            out[subset] = DatasetDict({"test": Dataset.from_list(triplets)})
        return out

    task_metadata = TripletTaskMetadata(
        name=name,
        dataset={"path": _describe(table), "revision": source.revision},
        description=description or f"Dual-aspect triplets ({' vs '.join(aspects)}) built from {_describe(table)}.",
        type="Triplet",
        category="t2t",
        eval_splits=["test"],
        eval_langs={subset: languages for subset in aspects},
        main_score="success_rate",
        **metadata,
    )
    instructions = {subset: aspect.instruction for subset, aspect in aspects.items()}
    return _task_class(
        name, AbsTaskTriplet, task_metadata, read_dataset=read_dataset, subset_instructions=instructions
    )()


def instruction_clustering_task(
    name: str,
    table: tables.Table,
    *,
    label_column: str,
    instruction: str,
    text_column: str = "text",
    per_label: int | None = None,
    max_texts: int | None = None,
    seed: int = 42,
    revision: str | None = None,
    description: str | None = None,
    languages: list[str] | None = None,
    instruction_variants: dict[str, list[str]] | None = None,
    **metadata: Any,
) -> AbsTaskInstructionClustering:
    """Cluster ``text_column`` under ``instruction``; gold clusters are ``label_column``. ``per_label`` caps
    the texts of each label and ``max_texts`` the total (both seeded); ``instruction_variants`` enables the
    robustness test."""
    table = _materialize(table)
    columns = [text_column, label_column]
    source = TableSource(
        table, revision or tables.fingerprint(tables.table_fingerprint(table), columns, per_label, max_texts, seed)
    )

    def read_dataset(self, num_proc=None):
        rows = source.rows()
        tables.require_columns(rows, columns, name)
        rows = cap_per_label(unique_texts(rows, text_column), label_column, per_label, f"{seed}:per_label")
        rows = sample_rows(rows, max_texts, f"{seed}:max_texts")
        texts = [str(row[text_column]) for row in rows]
        return DatasetDict(
            {"test": Dataset.from_dict({"text": texts, "cluster": [str(row[label_column]) for row in rows]})}
        )

    task_metadata = TaskMetadata(
        name=name,
        dataset={"path": _describe(table), "revision": source.revision},
        description=description or f"Texts of {_describe(table)} clustered by {label_column!r} under an instruction.",
        type="Clustering",
        category="t2c",
        eval_splits=["test"],
        eval_langs=languages or ["eng-Latn"],
        main_score="v_measure",
        prompt=instruction,
        **metadata,
    )
    return _task_class(
        name, AbsTaskInstructionClustering, task_metadata,
        read_dataset=read_dataset, instruction_variants=dict(instruction_variants or {}),
    )()  # fmt: skip


def instruction_sts_task(
    name: str,
    table: tables.Table,
    *,
    instruction: str | None = None,
    instruction_column: str | None = None,
    sentence1_column: str = "sentence1",
    sentence2_column: str = "sentence2",
    score_column: str = "score",
    min_score: float = 0,
    max_score: float = 5,
    max_pairs: int | None = None,
    seed: int = 42,
    revision: str | None = None,
    description: str | None = None,
    languages: list[str] | None = None,
    **metadata: Any,
) -> AbsTaskInstructionSTS:
    """Gold-scored pairs embedded under ``instruction`` (or the row's ``instruction_column``)."""
    if (instruction is None) == (instruction_column is None):
        raise ValueError(f"Task {name!r}: give exactly one of instruction= and instruction_column=.")
    table = _materialize(table)
    columns = [sentence1_column, sentence2_column, score_column] + ([instruction_column] if instruction_column else [])
    source = TableSource(
        table, revision or tables.fingerprint(tables.table_fingerprint(table), columns, max_pairs, seed)
    )

    def read_dataset(self, num_proc=None):
        rows = source.rows()
        tables.require_columns(rows, columns, name)
        rows = sample_rows(rows, max_pairs, f"{seed}:max_pairs")
        data = {
            "sentence1": [str(row[sentence1_column]) for row in rows],
            "sentence2": [str(row[sentence2_column]) for row in rows],
            "score": [_as_score(row[score_column], name, number) for number, row in enumerate(rows)],
        }
        if instruction_column:
            data["instruction"] = [str(row[instruction_column]) for row in rows]
        return DatasetDict({"test": Dataset.from_dict(data)})

    task_metadata = TaskMetadata(
        name=name,
        dataset={"path": _describe(table), "revision": source.revision},
        description=description or f"Sentence pairs of {_describe(table)} scored under an instruction.",
        type="STS",
        category="t2t",
        eval_splits=["test"],
        eval_langs=languages or ["eng-Latn"],
        main_score="cosine_spearman",
        prompt=instruction,
        **metadata,
    )
    return _task_class(
        name, AbsTaskInstructionSTS, task_metadata, read_dataset=read_dataset, min_score=min_score, max_score=max_score
    )()


def _task_class(name: str, base: type, metadata: TaskMetadata, **attributes: Any) -> type:
    # Metadata must live on the class: mteb's unload_data() drops instance-level metadata.
    return type(name, (base,), {"metadata": metadata, "__module__": __name__, **attributes})


def _materialize(table: tables.Table) -> tables.Table:
    """Paths and functions stay lazy; any other iterable of rows is copied once (a generator reads once)."""
    if isinstance(table, (str, Path)) or callable(table):
        return table
    return [dict(row) for row in table]


def _describe(table: tables.Table) -> str:
    if isinstance(table, (str, Path)):
        return str(table)
    if callable(table):
        function = getattr(table, "func", table)  # a functools.partial names its function
        return f"rows from {getattr(function, '__qualname__', 'a function')}()"
    return "an in-memory table"


def _as_score(value: Any, task_name: str, row: int) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"Task {task_name!r}: row {row} has a non-numeric score {value!r}.") from None
