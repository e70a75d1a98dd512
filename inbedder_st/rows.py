"""Reading rows from the files users hand the package: JSON lines, CSV/TSV with a header, a JSON list.

One reader for the command line's inputs, the mteb task factories' tables and the training data readers.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

ROW_FILE_SUFFIXES = (".csv", ".tsv", ".jsonl", ".json")


class JsonLineError(ValueError):
    """A line of a JSON-lines file that does not parse; names the file and the line (1-based)."""

    def __init__(self, origin: str, line: int, reason: str):
        self.origin, self.line, self.reason = origin, line, reason
        super().__init__(f"{origin}:{line}: not valid JSON ({reason})")


def parse_json_lines(lines: Iterable[str], origin: str, *, skip_blank: bool = True) -> list[tuple[int, Any]]:
    """(line number, value) for each line, one JSON value per line. Blank lines are skipped in tables, but
    ``skip_blank=False`` makes them an error where output rows must match input lines one to one."""
    values = []
    for number, line in enumerate(lines, start=1):
        if line.strip() or not skip_blank:
            try:
                values.append((number, json.loads(line)))
            except json.JSONDecodeError as error:
                raise JsonLineError(origin, number, error.msg) from None
    return values


def read_json_lines(path: str | Path) -> list[Any]:
    with open(path, encoding="utf-8") as f:
        return [value for _, value in parse_json_lines(f, str(path))]


def read_csv(path: str | Path) -> tuple[list[str], list[dict[str, str]]]:
    """(header, rows) of a .csv, or of a .tsv (tab-separated); a byte-order mark is ignored."""
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f, delimiter="\t" if str(path).lower().endswith(".tsv") else ",")
        return list(reader.fieldnames or []), list(reader)


def read_rows(path: str | Path) -> list[dict[str, Any]]:
    """The rows of a .csv / .tsv / .jsonl file or of a .json file holding a list of objects."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in ROW_FILE_SUFFIXES:
        raise ValueError(f"Cannot read table {path}: expected one of {ROW_FILE_SUFFIXES}.")
    if suffix in (".csv", ".tsv"):
        return read_csv(path)[1]
    if suffix == ".jsonl":
        return read_json_lines(path)
    rows = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(rows, list):
        raise ValueError(f"{path}: expected a JSON list of objects.")
    return rows
