"""The CLI job's resume bookkeeping without Ray (parts.py): fingerprints, atomic parts, stale parts, job record."""

from __future__ import annotations

import os

import pytest

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

from inbedder_st.distributed import parts as plan  # noqa: E402

SETTINGS = {"model": "default", "prompts": ["a?"]}


def make_input(folder, name="data", rows=25):
    folder.mkdir(exist_ok=True)
    path = folder / f"{name}.parquet"
    pq.write_table(pa.table({"text": [f"t{i}" for i in range(rows)]}), path)
    return path


def test_a_part_is_done_only_with_its_fingerprint_and_a_changed_input_is_redone(tmp_path):
    source = make_input(tmp_path / "in")
    out = tmp_path / "out"
    plan.prepare_output(out, SETTINGS)
    parts = plan.plan_parts(plan.check_schema(plan.input_files(str(source.parent)), "text"), 10, SETTINGS)
    assert [(p.name, p.start, p.stop) for p in parts] == [("data-00000", 0, 10), ("data-00001", 10, 20), ("data-00002", 20, 25)]
    plan.write_part(out, parts[0], pa.table({"x": list(range(10))}))
    assert [plan.is_done(out, p) for p in parts] == [True, False, False]
    assert not list(out.glob(".tmp-*"))  # the temporary file was renamed, nothing left behind

    stat = source.stat()
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # the input changed after the part was written
    replanned = plan.plan_parts(plan.check_schema([source], "text"), 10, SETTINGS)
    assert not plan.is_done(out, replanned[0])
    other_job = plan.plan_parts(plan.check_schema([source], "text"), 10, {**SETTINGS, "prompts": ["b?"]})
    assert other_job[1].fingerprint != replanned[1].fingerprint


def test_stale_parts_are_removed_and_another_jobs_folder_refused(tmp_path):
    make_input(tmp_path / "in", "keep")
    out = tmp_path / "out"
    plan.prepare_output(out, SETTINGS)
    (out / "gone-00000.parquet").write_bytes(b"an input file that was removed since")
    parts = plan.plan_parts(plan.check_schema(plan.input_files(str(tmp_path / "in")), "text"), 100, SETTINGS)
    assert plan.remove_stale(out, parts) == ["gone-00000.parquet"]
    with pytest.raises(plan.JobError, match=r"holds the output of another job \(different prompts\)"):
        plan.prepare_output(out, {**SETTINGS, "prompts": ["b?"]})
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    pq.write_table(pa.table({"x": [1]}), foreign / "mine.parquet")
    with pytest.raises(plan.JobError, match="already holds Parquet files that this job did not write"):
        plan.prepare_output(foreign, SETTINGS)
