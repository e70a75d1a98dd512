"""A missing ../shared skips only the checks that read it, and fails them where CI requires the data.

Runs pytest in a subprocess with ``INBEDDER_DATA`` pointing at a folder that does not exist.
"""

from __future__ import annotations

import os
import subprocess
import sys

from conftest import REPO


def run_pytest(*args: str, require: bool) -> subprocess.CompletedProcess:
    env = {**os.environ, "INBEDDER_DATA": str(REPO / "no-such-shared-data"), "INBEDDER_REQUIRE_DATA": "1" if require else ""}
    env.pop("NLTK_DATA", None)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", *args],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip


def test_data_checks_skip_with_a_reason_and_fail_when_the_data_is_required():
    selection = ["tests/test_mteb_dev_tasks.py", "tests/test_mteb_paper_tasks.py::test_ids_revisions_configs_and_instructions_match_the_papers_code"]
    relaxed = run_pytest(*selection, require=False)
    assert relaxed.returncode == 0, relaxed.stdout[-2000:]
    assert "skipped" in relaxed.stdout and "no-such-shared-data" in relaxed.stdout and "failed" not in relaxed.stdout
    strict = run_pytest(*selection, require=True)
    assert strict.returncode == 1 and "INBEDDER_REQUIRE_DATA is set" in strict.stdout, strict.stdout[-2000:]
    assert "skipped" not in strict.stdout


def test_checks_that_need_no_data_run_without_it():
    """These used the shared emotion texts only as example texts; they now use tests/fixtures."""
    run = run_pytest(
        "tests/test_module.py", "-k", "bare_transformers or hold_the_batch or do_not_depend_on_the_batch", require=True
    )
    assert run.returncode == 0 and "skipped" not in run.stdout, run.stdout[-2000:]
