"""Users' tables for the task factories: read rows, check columns, fingerprint the data.

A table is a file (``.csv``, ``.tsv`` with a header row, ``.jsonl``, ``.json`` holding a list of objects),
a list of dicts, or a function returning rows (read lazily, when the task loads its data).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Union

from inbedder_st.rows import ROW_FILE_SUFFIXES, read_rows

Table = Union[str, Path, Iterable[Mapping[str, Any]], Callable[[], Iterable[Mapping[str, Any]]]]
FILE_SUFFIXES = ROW_FILE_SUFFIXES


def read_table(table: Table) -> list[dict[str, Any]]:
    if isinstance(table, (str, Path)):
        return read_rows(table)
    rows = table() if callable(table) else table
    return [dict(row) for row in rows]


def require_columns(rows: list[dict[str, Any]], columns: Iterable[str], task_name: str) -> None:
    """Every row has a non-empty value in every column (the first bad row is named)."""
    columns = list(columns)
    if not rows:
        raise ValueError(f"Task {task_name!r}: the table has no rows.")
    for number, row in enumerate(rows):
        for column in columns:
            value = row.get(column)
            if value is None or (isinstance(value, str) and not value.strip()):
                problem = "has no column" if column not in row else "has an empty value in column"
                raise ValueError(f"Task {task_name!r}: row {number} {problem} {column!r} (columns: {sorted(row)}).")


def fingerprint(*parts: Any) -> str:
    """A short stable hash of files (their bytes) and plain values: the dataset revision of a local task."""
    digest = hashlib.sha1()
    for part in parts:
        if isinstance(part, Path) and part.is_file():
            digest.update(part.read_bytes())
        else:
            digest.update(json.dumps(part, sort_keys=True, default=str).encode())
    return digest.hexdigest()[:12]


def table_fingerprint(table: Table) -> Any:
    """What identifies a table's content for ``fingerprint``: its bytes for a file, its rows if given."""
    if isinstance(table, (str, Path)):
        return Path(table)
    if callable(table):
        return getattr(table, "__qualname__", repr(table))  # read lazily: pass revision= to pin it
    return [dict(row) for row in table]
