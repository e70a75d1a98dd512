"""The tiny test models must be the same on every build, in every process: tests that train them compare losses
against fixed bars, and a tokenizer or weights that changed per run made one of them flaky."""

import hashlib
import json
import subprocess
import sys
from pathlib import Path

from tiny_models import BUILDERS

TESTS = Path(__file__).parent

BUILD_AND_HASH = """
import hashlib, json, sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from tiny_models import BUILDERS
out = {}
for family, build in BUILDERS.items():
    folder = build(Path(sys.argv[2]) / family)
    out[family] = {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in sorted(folder.iterdir())}
print(json.dumps(out))
"""


def _hashes(folder: Path) -> dict[str, str]:
    return {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in sorted(folder.iterdir())}


def test_every_tiny_model_builds_the_same_files_in_another_process(tmp_path):
    here = {family: _hashes(build(tmp_path / "here" / family)) for family, build in BUILDERS.items()}
    again = {family: _hashes(build(tmp_path / "again" / family)) for family, build in BUILDERS.items()}
    done = subprocess.run(
        [sys.executable, "-c", BUILD_AND_HASH, str(TESTS), str(tmp_path / "there")],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    there = json.loads(done.stdout.strip().splitlines()[-1])
    for family, files in here.items():
        assert "model.safetensors" in files, family
        assert again[family] == files, f"{family}: two builds in one process differ"
        assert there[family] == files, f"{family}: a build in another process differs"
