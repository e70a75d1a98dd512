"""Every module of the two packages imports on its own, first: no import cycle hides behind an import order."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# In one interpreter: heavy third-party libraries stay loaded, but before each import every module of ours is
# dropped, so each one is imported first, as in a fresh interpreter.
EACH_MODULE_FIRST = r"""
import importlib, pkgutil, sys
ours = ("inbedder_st", "mteb_tasks")
names = []
for package in ours:
    root = importlib.import_module(package)
    names += [package] + [m.name for m in pkgutil.walk_packages(root.__path__, package + ".")]
failures = []
for name in names:
    for loaded in [m for m in sys.modules if m.split(".")[0] in ours]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except ModuleNotFoundError as error:
        if (error.name or "").split(".")[0] in ours:
            failures.append(f"{name}: {error!r}")
        # else: an optional dependency (an extra) that is not installed
    except Exception as error:
        failures.append(f"{name}: {error!r}")
print(len(names), "modules")
print("\n".join(failures))
sys.exit(1 if failures else 0)
"""


def run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=600)


def test_the_mteb_encoder_imports_from_a_fresh_interpreter():
    result = run("import mteb_tasks.encoder")
    assert result.returncode == 0, result.stderr[-3000:]


def test_every_module_imports_first():
    result = run(EACH_MODULE_FIRST)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert int(result.stdout.split()[0]) > 50
