"""``inbedder encode --engine ray``: Parquet files -> resumable Parquet parts, on a local Ray or a cluster.

Plan the parts on the driver (parts.py: footers only), skip those already written, then one Ray Dataset
does the rest: a read task per pending part (reads its rows, checks its texts, tags them with the part's
index) -> ``embed_dataset``'s actor pool -> rows stream back to the driver in input order, and each part is
written atomically as soon as its last row arrives. A crash loses at most the parts in flight; the rerun
skips every part whose file carries its fingerprint. The output passes through the driver: at 2.3 KB per
row and instruction for the default model that is far below what one machine writes.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from inbedder_st.distributed import parts as plan
from inbedder_st.distributed.embed import embed_dataset, make_spec
from inbedder_st.distributed.parts import JobError
from inbedder_st.distributed.ray_import import require_ray

PART_COLUMN = "_inbedder_part"  # the part index each row belongs to, dropped before writing


@dataclass
class JobConfig:
    input: str
    output: str
    prompts: list[str]
    model: str = "default"
    text_column: str = "text"
    address: str | None = None
    concurrency: int = 1
    num_gpus: float = 0
    num_cpus: float = 1
    batch_size: int = 32
    rows_per_part: int = 100_000
    normalize: bool = False
    answers: bool = False
    dtype: str | None = None
    load_kwargs: dict = field(default_factory=dict)

    def settings(self) -> dict:
        """What determines the output: a rerun must match these to reuse the finished parts."""
        return {"model": self.model, "prompts": list(self.prompts), "text_column": self.text_column,
                "rows_per_part": self.rows_per_part, "normalize": self.normalize, "answers": self.answers,
                "dtype": self.dtype, "load_kwargs": self.load_kwargs}  # fmt: skip


@dataclass
class JobResult:
    parts: int
    skipped: int
    rows: int
    output: Path


def run_job(config: JobConfig) -> JobResult:
    """Run (or resume) the job; JobError for bad input, a failed model load or an unreachable cluster."""
    files = plan.input_files(config.input)
    rows = plan.check_schema(files, config.text_column)
    spec = make_spec(config.model, config.prompts, text_column=config.text_column, batch_size=config.batch_size,
                     num_gpus=config.num_gpus, num_cpus=config.num_cpus, dtype=config.dtype,
                     normalize=config.normalize, answers=config.answers, load_kwargs=dict(config.load_kwargs))  # fmt: skip
    check_model(config.model)
    require_ray()  # before anything is created on disk
    out = Path(config.output)
    plan.prepare_output(out, config.settings())
    parts = plan.plan_parts(rows, config.rows_per_part, config.settings())
    plan.remove_stale(out, parts)
    todo = [p for p in parts if not plan.is_done(out, p)]
    if todo:
        ray = connect(config.address)
        try:
            _run_parts(ray, config, todo, out)
        except (Exception, KeyboardInterrupt) as error:  # a worker's error arrives wrapped in Ray's exceptions
            if isinstance(error, JobError):
                raise
            done = sum(plan.is_done(out, p) for p in parts)
            reason = "interrupted" if isinstance(error, KeyboardInterrupt) else root_message(error)
            raise JobError(f"{reason} ({done} of {len(parts)} parts done; rerun to resume)") from error
    plan.write_manifest(out, parts, spec.columns)
    return JobResult(parts=len(parts), skipped=len(parts) - len(todo), rows=sum(p.rows for p in parts), output=out)


def _run_parts(ray, config: JobConfig, todo: list[plan.Part], out: Path) -> None:
    items = [{"index": i, "path": p.path, "start": p.start, "stop": p.stop} for i, p in enumerate(todo)]
    ds = ray.data.from_items(items)
    ds = ds.map_batches(read_parts, batch_size=1, batch_format="pyarrow", fn_kwargs={"text_column": config.text_column})
    ds = embed_dataset(ds, config.model, config.prompts, text_column=config.text_column,
                       batch_size=config.batch_size, concurrency=config.concurrency, num_gpus=config.num_gpus,
                       num_cpus=config.num_cpus, dtype=config.dtype, normalize=config.normalize,
                       answers=config.answers, **config.load_kwargs)  # fmt: skip
    writer = PartWriter(out, todo)
    for batch in ds.iter_batches(batch_size=None, batch_format="pyarrow"):
        writer.add(batch)
    writer.close()


class PartWriter:
    """Collect the streamed rows of each part (they arrive in order) and write a part once it is whole."""

    def __init__(self, out: Path, todo: list[plan.Part]):
        self.out, self.todo = out, todo
        self.current: int | None = None
        self.pieces: list = []

    def add(self, batch) -> None:
        import pyarrow.compute as pc

        ids = batch.column(PART_COLUMN)
        for index in pc.unique(ids).to_pylist():  # a batch may end one part and start the next
            piece = batch.filter(pc.equal(ids, index))
            if index != self.current:
                self._flush()
                self.current = index
            self.pieces.append(piece)

    def close(self) -> None:
        self._flush()

    def _flush(self) -> None:
        import pyarrow as pa

        if self.current is None:
            return
        part = self.todo[self.current]
        table = pa.concat_tables(self.pieces).drop_columns([PART_COLUMN])
        if table.num_rows != part.rows:  # never write a part with missing or repeated rows
            raise JobError(f"part {part.name}: got {table.num_rows} rows, expected {part.rows}")
        plan.write_part(self.out, part, table)
        self.current, self.pieces = None, []


def read_parts(items, text_column: str):
    """Ray task: the rows of each part in ``items``, tagged with its index; ValueError naming file and row for a null text."""
    import pyarrow as pa
    import pyarrow.compute as pc

    tables = []
    for item in items.to_pylist():
        table = read_rows(item["path"], item["start"], item["stop"])
        texts = table.column(text_column)
        if texts.null_count:
            row = item["start"] + pc.index(pc.is_null(texts), True).as_py()
            raise ValueError(f"{item['path']}: row {row}: column {text_column!r} is null (every row needs a text)")
        tables.append(table.append_column(PART_COLUMN, pa.array([item["index"]] * table.num_rows, pa.int64())))
    return pa.concat_tables(tables)


def read_rows(path: str, start: int, stop: int):
    """Rows ``[start, stop)`` of a Parquet file, reading only the row groups that hold them."""
    import pyarrow.parquet as pq

    source = pq.ParquetFile(path)
    groups, first, offset = [], None, 0
    for index in range(source.metadata.num_row_groups):
        size = source.metadata.row_group(index).num_rows
        if offset + size > start and offset < stop:
            groups.append(index)
            first = offset if first is None else first
        offset += size
    table = source.read_row_groups(groups)
    return table.slice(start - first, stop - start)


def check_model(name: str) -> None:
    """Fail on the driver, in seconds, for a model every actor would fail to load."""
    from inbedder_st import default

    if name == "default":
        try:
            default.gguf_path()
        except default.DefaultModelMissing as error:
            raise JobError(f"cannot load model 'default': {error}") from None
        return
    path = Path(name).expanduser()
    if path.exists():
        if not (path / "config.json").is_file() and not (path / "modules.json").is_file():
            raise JobError(f"cannot load model {name!r}: the folder has no config.json or modules.json")
        return
    if name.startswith(("/", ".", "~")) or name.count("/") > 1:
        raise JobError(f"cannot load model {name!r}: no such model folder")
    import huggingface_hub

    try:  # a hub id: fetch its config here once (cached), so a typo fails before the actors start
        huggingface_hub.hf_hub_download(name, "config.json")
    except Exception as error:  # noqa: BLE001  (the hub's errors have no common base besides OSError/HTTP)
        raise JobError(f"cannot load model {name!r}: {str(error).splitlines()[0]}") from None


def connect(address: str | None):
    """Ray, connected: the running session if there is one, else ``address`` ("auto", host:port) or a new local Ray."""
    ray = require_ray()
    if address and address != "auto":
        check_reachable(address)
    if ray.is_initialized():  # e.g. a notebook or test that called ray.init(...) itself
        return ray
    try:
        ray.init(address=address, include_dashboard=False, configure_logging=False)
    except (ConnectionError, RuntimeError, ValueError, TimeoutError) as error:
        where = f"at {address!r}" if address else "locally"
        raise JobError(f"cannot reach a Ray cluster {where}: {str(error).splitlines()[0]}") from None
    return ray


def check_reachable(address: str, timeout_s: float = 10.0) -> None:
    """A TCP connection to HOST:PORT (or ray://HOST:PORT) first: ray.init waits minutes for a dead address."""
    import socket

    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise JobError(f"--address must be auto or HOST:PORT, got {address!r}")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except OSError as error:
        raise JobError(f"cannot reach a Ray cluster at {address!r}: {error.strerror or error}") from None


def root_message(error: BaseException) -> str:
    """The user's error behind Ray's wrappers: a worker's exception reaches the driver only as traceback text
    inside RayTaskError / UserCodeException, so take its last "SomeError: message" line that is not Ray's own."""
    import re

    text = "\n".join(str(e) for e in (error, getattr(error, "cause", None)) if e is not None)
    found = [m for m in re.finditer(r"^([A-Za-z_][\w.]*(?:Error|Exception)): (.+)$", text, flags=re.M)
             if not m.group(1).startswith("ray.")]  # fmt: skip
    if found:
        name, message = found[-1].groups()
        return message if name in ("ValueError", "JobError") else f"{name.rsplit('.', 1)[-1]}: {message}"
    lines = [line.strip() for line in text.splitlines() if line.strip() and "ray::" not in line]
    return lines[0] if lines else repr(error)


def print_result(result: JobResult) -> None:
    done = f"{result.parts - result.skipped} written, {result.skipped} already done" if result.skipped else f"{result.parts} written"
    print(f"encoded {result.rows} rows into {result.parts} parts ({done}) -> {result.output}{os.sep}", file=sys.stderr)
