"""The CLI job's plan on disk: input files -> parts, fingerprints, atomic part files, the job record.

No Ray here: this is what makes a job resumable. A part is a row range of one input file; its output is
``OUT/<name>.parquet``, written under a temporary name (``.tmp-*``, which Parquet readers skip) and renamed
into place, so a file under a part's name is always whole. The part's fingerprint (input path, size,
modification time, row range and the job's settings) is stored in the file's Parquet metadata; a rerun
skips a part whose file carries the fingerprint it would write, and redoes any other (stale, unreadable).
``_manifest.json`` is written last, only once every part is there: its presence means the output is complete.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

FINGERPRINT_KEY = b"inbedder.fingerprint"
JOB_FILE = "_inbedder_job.json"  # the settings of the job that owns the folder (leading _: readers skip it)
MANIFEST_FILE = "_manifest.json"  # written last: the parts and their row counts; absent until complete
TEMP_PREFIX = ".tmp-"


class JobError(Exception):
    """A user-facing problem with the job's input or output (one line, no traceback)."""


@dataclass(frozen=True)
class Part:
    """Rows ``[start, stop)`` of one input file, written to ``name``.parquet."""

    name: str
    path: str  # absolute, so workers on other nodes of a shared file system find it
    start: int
    stop: int
    fingerprint: str

    @property
    def rows(self) -> int:
        return self.stop - self.start


def input_files(spec: str) -> list[Path]:
    """The Parquet files of a folder (``*.parquet``, not recursive) or a glob, sorted; JobError if none."""
    path = Path(spec)
    if path.is_dir():
        found = sorted(p for p in path.glob("*.parquet") if p.is_file() and not p.name.startswith((".", "_")))
    elif path.is_file():
        found = [path]
    else:
        found = sorted(Path(p) for p in glob.glob(spec, recursive=True) if Path(p).is_file())
    if not found:
        raise JobError(f"no Parquet files found at --input {spec!r}")
    return [p.resolve() for p in found]


def check_schema(files: list[Path], text_column: str) -> dict[Path, int]:
    """Row counts per file, from the Parquet footers; JobError naming the file for a missing or non-text column."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = {}
    for path in files:
        try:
            meta = pq.ParquetFile(path)
        except (OSError, pa.ArrowException) as error:
            raise JobError(f"cannot read {path} as Parquet: {error}") from None
        schema = meta.schema_arrow
        if text_column not in schema.names:
            raise JobError(f"{path}: no column {text_column!r} (columns: {', '.join(schema.names)}); set --text-column")
        kind = schema.field(text_column).type
        if pa.types.is_dictionary(kind):
            kind = kind.value_type
        if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
            raise JobError(f"{path}: column {text_column!r} holds {kind}, not text")
        rows[path] = meta.metadata.num_rows
    if not any(rows.values()):
        raise JobError(f"the input holds no rows ({len(files)} file(s), all empty)")
    return rows


def settings_hash(settings: dict) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


def plan_parts(rows: dict[Path, int], rows_per_part: int, settings: dict) -> list[Part]:
    """Parts in input order: each file cut into ranges of at most ``rows_per_part`` rows (empty files: none)."""
    if rows_per_part < 1:
        raise JobError(f"--rows-per-part must be >= 1, got {rows_per_part}")
    names = _part_stems(list(rows))
    job = settings_hash(settings)
    parts = []
    for path, count in rows.items():
        stat = path.stat()
        for index, start in enumerate(range(0, count, rows_per_part)):
            stop = min(start + rows_per_part, count)
            source = {"path": str(path), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "rows": [start, stop]}
            fingerprint = hashlib.sha256(json.dumps({"input": source, "job": job}, sort_keys=True).encode()).hexdigest()
            parts.append(Part(f"{names[path]}-{index:05d}", str(path), start, stop, fingerprint))
    return parts


def _part_stems(files: list[Path]) -> dict[Path, str]:
    """Output names that keep the input order when sorted: the file's path below the inputs' common folder."""
    root = Path(os.path.commonpath([str(p.parent) for p in files]))
    return {p: str(p.relative_to(root).with_suffix("")).replace(os.sep, "__") for p in files}


def part_path(out: Path, part: Part) -> Path:
    return out / f"{part.name}.parquet"


def is_done(out: Path, part: Part) -> bool:
    """True when the part's file is a readable Parquet file carrying this part's fingerprint."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = part_path(out, part)
    if not path.is_file():
        return False
    try:
        metadata = pq.read_schema(path).metadata or {}
    except (OSError, pa.ArrowException):  # garbage or truncated: not done, it will be rewritten
        return False
    return metadata.get(FINGERPRINT_KEY) == part.fingerprint.encode()


def write_part(out: Path, part: Part, table) -> None:
    """Write ``table`` as the part's file atomically: a temporary file in the same folder, then a rename."""
    import pyarrow.parquet as pq

    metadata = {**(table.schema.metadata or {}), FINGERPRINT_KEY: part.fingerprint.encode()}
    table = table.replace_schema_metadata(metadata)
    temp = out / f"{TEMP_PREFIX}{part.name}.{os.getpid()}.parquet"
    try:
        pq.write_table(table, temp)
        os.replace(temp, part_path(out, part))
    finally:
        temp.unlink(missing_ok=True)


def prepare_output(out: Path, settings: dict) -> None:
    """Create OUT (or reuse it for the same job); refuse a folder that holds another job's output."""
    out.mkdir(parents=True, exist_ok=True)
    record = out / JOB_FILE
    if record.exists():
        try:
            previous = json.loads(record.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            previous = None
        if previous != settings:
            changed = sorted(k for k in settings if not isinstance(previous, dict) or previous.get(k) != settings[k])
            raise JobError(
                f"{out} holds the output of another job (different {', '.join(changed) or 'settings'}); "
                "use another --output or delete it"
            )
    elif any(p.suffix == ".parquet" for p in out.iterdir()):
        raise JobError(f"{out} already holds Parquet files that this job did not write; use an empty --output folder")
    else:
        _write_json(record, settings)
    (out / MANIFEST_FILE).unlink(missing_ok=True)  # the output is incomplete until this run finishes
    for leftover in out.glob(f"{TEMP_PREFIX}*"):  # a crashed run's half-written part
        leftover.unlink(missing_ok=True)


def remove_stale(out: Path, parts: list[Part]) -> list[str]:
    """Delete part files of this job folder that the plan no longer has (an input file removed or renamed),
    so that reading the folder gives exactly the planned rows. The folder is the job's own (prepare_output)."""
    planned = {part_path(out, p).name for p in parts}
    stale = [p for p in out.glob("*.parquet") if not p.name.startswith((".", "_")) and p.name not in planned]
    for path in stale:
        path.unlink()
    return sorted(p.name for p in stale)


def write_manifest(out: Path, parts: list[Part], columns: dict[str, str | None]) -> None:
    manifest = {
        "complete": True,
        "rows": sum(p.rows for p in parts),
        "columns": columns,  # output column -> its instruction
        "parts": [{**asdict(p), "file": part_path(out, p).name} for p in parts],
    }
    _write_json(out / MANIFEST_FILE, manifest)


def _write_json(path: Path, data) -> None:
    temp = path.with_name(f"{TEMP_PREFIX}{path.name}")
    temp.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    os.replace(temp, path)
