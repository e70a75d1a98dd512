"""``inbedder encode --engine ray`` (issue 17): Parquet parts, resuming a killed job, and bad input.

The kill is real: the job runs as a separate driver process (joining this session's Ray through its
address), is sent SIGKILL once some of its parts are on disk, and the same command is rerun. The final
output must equal an uninterrupted run's, row for row. Input checks that need no Ray run before it starts.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from inbedder_st.cli import main
from inbedder_st.distributed.parts import MANIFEST_FILE
from tiny_models import build_opt

PROMPTS = ["What animal is it?", "How does the customer feel?"]
RAY_WORKER_LINE = re.compile(r"^(\x1b\[\d+m)?\(.*pid=\d+\)")  # a worker log line Ray forwards to the driver


@pytest.fixture(scope="module")
def tiny_opt(tmp_path_factory):
    return str(build_opt(tmp_path_factory.mktemp("tiny") / "opt"))


def write_inputs(folder, rows: int, files: int = 2, row_group_size: int = 7):
    """``files`` Parquet files holding ids 0..rows-1 in order, with an extra column to keep."""
    folder.mkdir(parents=True, exist_ok=True)
    per_file = -(-rows // files)
    for index in range(files):
        ids = list(range(index * per_file, min((index + 1) * per_file, rows)))
        texts = [f"message {i}: " + ("I love my cat." if i % 2 else "My card never arrived, I am angry.") for i in ids]
        table = pa.table({"id": ids, "text": texts, "lang": ["en"] * len(ids)})
        pq.write_table(table, folder / f"chunk{index}.parquet", row_group_size=row_group_size)
    return folder


def encode_argv(source, out, model, *extra):
    argv = ["encode", "--engine", "ray", "--input", str(source), "--output", str(out), "--model", model]
    for prompt in PROMPTS:
        argv += ["--prompt", prompt]
    return argv + list(extra)


def finished_parts(out):
    """Part files under their final names (a temporary ``.tmp-*`` file of an unfinished write is not one)."""
    return sorted(p for p in out.glob("*.parquet") if not p.name.startswith("."))


def read_output(out):
    assert (out / MANIFEST_FILE).is_file(), "the job did not finish"
    return pq.read_table(out)  # every part, in name order (= input order); _ and . files skipped


def test_parts_hold_the_input_rows_in_order_with_their_embeddings(ray_session, tiny_opt, tmp_path, capsys):
    import inbedder_st

    source = write_inputs(tmp_path / "in", rows=45)
    out = tmp_path / "out"
    assert main(encode_argv(source, out, tiny_opt, "--rows-per-part", "10", "--batch-size", "4", "--answers")) == 0
    assert "encoded 45 rows into 6 parts" in capsys.readouterr().err
    table = read_output(out)
    assert table.column("id").to_pylist() == list(range(45))
    assert table.column_names == ["id", "text", "lang", "embedding_0", "embedding_1", "answer_0", "answer_1"]
    assert [p.name for p in finished_parts(out)] == [f"chunk{f}-0000{k}.parquet" for f in (0, 1) for k in range(3)]
    manifest = json.loads((out / MANIFEST_FILE).read_text())
    assert manifest["rows"] == 45 and manifest["columns"]["embedding_1"] == PROMPTS[1]
    model = inbedder_st.load_model(tiny_opt, device="cpu")
    texts = table.column("text").to_pylist()
    for j, prompt in enumerate(PROMPTS):
        np.testing.assert_allclose(np.array(table.column(f"embedding_{j}").to_pylist()), model.encode(texts, prompt=prompt), atol=1e-5)
        assert table.column(f"answer_{j}").to_pylist() == inbedder_st.answer(model, texts, prompt=prompt)
    # A rerun of the same command does nothing: every part is recognised as done.
    assert main(encode_argv(source, out, tiny_opt, "--rows-per-part", "10", "--batch-size", "4", "--answers")) == 0
    assert "0 written, 6 already done" in capsys.readouterr().err


def test_a_killed_job_resumes_to_the_same_output(ray_session, tiny_opt, tmp_path, capsys):
    source = write_inputs(tmp_path / "in", rows=400)
    options = ["--rows-per-part", "20", "--batch-size", "2"]  # 20 parts, small batches: a kill lands mid-run
    reference = tmp_path / "reference"
    assert main(encode_argv(source, reference, tiny_opt, *options)) == 0

    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    argv = encode_argv(source, out, tiny_opt, *options, "--address", ray_session.get_runtime_context().gcs_address)
    log = tmp_path / "job.log"
    with open(log, "wb") as sink:
        job = subprocess.Popen([sys.executable, "-m", "inbedder_st.cli", *argv], env=env, stdout=sink, stderr=sink)
    deadline = time.monotonic() + 240
    while len(finished_parts(out)) < 3 and job.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    job.send_signal(signal.SIGKILL)
    job.wait()
    done_before = finished_parts(out)
    assert job.returncode == -signal.SIGKILL, f"the job ended before it could be killed: {log.read_text()[-2000:]}"
    assert 3 <= len(done_before) < 20 and not (out / MANIFEST_FILE).exists()  # killed mid-run, not complete
    kept = {p.name: p.stat().st_mtime_ns for p in done_before}
    # A half-written part under its final name (a writer without the atomic rename) is redone, not trusted.
    missing = sorted({f"chunk{f}-{k:05d}.parquet" for f in (0, 1) for k in range(10)} - set(kept))[0]
    (out / missing).write_bytes(b"PAR1 truncated")

    assert main(encode_argv(source, out, tiny_opt, *options)) == 0
    assert f"{20 - len(kept)} written, {len(kept)} already done" in capsys.readouterr().err
    assert all((out / name).stat().st_mtime_ns == mtime for name, mtime in kept.items())  # reused, not rewritten
    resumed, expected = read_output(out), read_output(reference)
    assert resumed.column("id").to_pylist() == list(range(400))  # no duplicated or missing rows
    assert resumed.column_names == expected.column_names
    for column in ("embedding_0", "embedding_1"):
        np.testing.assert_allclose(np.array(resumed.column(column).to_pylist()), np.array(expected.column(column).to_pylist()), atol=1e-6)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # free once closed: nothing listens there


def bad_input(tmp_path, case):
    folder = tmp_path / "in"
    folder.mkdir()
    if case == "no column":
        pq.write_table(pa.table({"body": ["a"]}), folder / "x.parquet")
    elif case == "not text":
        pq.write_table(pa.table({"text": [1, 2]}), folder / "x.parquet")
    elif case == "empty file":
        pq.write_table(pa.table({"text": pa.array([], pa.string())}), folder / "x.parquet")
    elif case != "no files":
        write_inputs(folder, rows=10, files=1)
    return folder


@pytest.mark.parametrize(
    "case, extra, message",
    [
        ("no column", [], r"x.parquet: no column 'text' \(columns: body\); set --text-column"),
        ("not text", [], r"x.parquet: column 'text' holds int64, not text"),
        ("no files", [], r"no Parquet files found at --input"),
        ("empty file", [], r"the input holds no rows"),
        ("ok", ["--model", "/no/such/model"], r"cannot load model '/no/such/model': no such model folder"),
        ("ok", ["--address", "127.0.0.1:PORT"], r"cannot reach a Ray cluster at '127.0.0.1:\d+': Connection refused"),
        ("ok", ["--concurrency", "0"], r"--concurrency must be >= 1"),
    ],
)
def test_bad_input_gives_one_line_and_no_output(tmp_path, capsys, tiny_opt, case, extra, message, request):
    import re

    if "--address" in extra:
        request.getfixturevalue("ray_session")  # the other inputs are checked before Ray is needed

    folder = bad_input(tmp_path, case)
    out = tmp_path / "out"
    argv = encode_argv(folder, out, tiny_opt, *[a.replace("PORT", str(closed_port())) for a in extra])  # a later --model wins
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and re.search(message, err[0]), err
    assert not out.exists() or not (out / MANIFEST_FILE).exists() and not finished_parts(out)


def test_a_null_text_is_named_by_file_and_row(ray_session, tiny_opt, tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    pq.write_table(pa.table({"text": ["ok", "fine", None, "ok"]}), folder / "holes.parquet")
    out = tmp_path / "out"
    assert main(encode_argv(folder, out, tiny_opt)) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "holes.parquet: row 2: column 'text' is null" in err and "0 of 1 parts done; rerun to resume" in err
    assert not (out / MANIFEST_FILE).exists() and not finished_parts(out)


def test_another_jobs_output_folder_is_refused(ray_session, tiny_opt, tmp_path, capsys):
    source = write_inputs(tmp_path / "in", rows=4, files=1)
    out = tmp_path / "out"
    out.mkdir()
    (out / "_inbedder_job.json").write_text(json.dumps({"model": "other"}))
    assert main(encode_argv(source, out, tiny_opt)) == 2
    assert "holds the output of another job (different " in capsys.readouterr().err


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--prompt", "b"], "several --prompt need --engine ray"),
        (["--concurrency", "2", "--answers"], "--concurrency, --answers apply to --engine ray only"),
    ],
)
def test_the_local_engine_refuses_ray_options(tmp_path, capsys, extra, message):
    source = tmp_path / "texts.txt"
    source.write_text("hello\n", encoding="utf-8")
    capsys.readouterr()  # drop what earlier tests left
    assert main(["encode", "--prompt", "a", "--input", str(source), *extra]) == 2
    # Ray forwards its workers' logs (of earlier tests' actors) to this process's stderr at any moment, each
    # line prefixed "(WorkerName pid=N)" (split on "\n" only: its progress bars hold "\r"); the CLI's own output is the rest.
    lines = [line for line in capsys.readouterr().err.strip().split("\n") if not RAY_WORKER_LINE.match(line)]
    assert len(lines) == 1 and lines[0].startswith("inbedder: error: ") and message in lines[0], lines
