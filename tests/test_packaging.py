"""Version ranges that were tested, and no private helpers of the libraries we build on (issue 15, item 5)."""

from __future__ import annotations

import ast
from importlib.metadata import version

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from conftest import REPO

tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
PINNED = ("sentence-transformers", "transformers", "mteb", "peft", "huggingface-hub")
SOURCE_PACKAGES = ("inbedder_st", "mteb_tasks", "model_cards")


def requirement(name: str) -> Requirement:
    for line in PYPROJECT["project"]["dependencies"]:
        parsed = Requirement(line)
        if parsed.name.lower() == name:
            return parsed
    raise AssertionError(f"{name} is not a dependency")


@pytest.mark.parametrize("name", PINNED)
def test_libraries_are_pinned_to_the_tested_minor_version(name):
    installed = Version(version(name))
    spec = requirement(name).specifier
    assert spec.contains(installed), f"{name} {installed} is outside {spec}"
    next_minor = Version(f"{installed.major}.{installed.minor + 1}.0")
    previous_minor = Version(f"{installed.major}.{max(installed.minor - 1, 0)}.0")
    assert not spec.contains(next_minor), f"{name}: {spec} allows the untested {next_minor}"
    assert installed.minor == 0 or not spec.contains(previous_minor), f"{name}: {spec} allows the untested {previous_minor}"


def test_the_build_backend_understands_the_spdx_license_field():
    assert PYPROJECT["project"]["license"] == "Apache-2.0"
    (setuptools,) = [Requirement(r) for r in PYPROJECT["build-system"]["requires"] if r.startswith("setuptools")]
    assert not setuptools.specifier.contains("76.9") and setuptools.specifier.contains("77.0")


def private_imports(path) -> list[str]:
    """``from lib._private import x``, ``from lib import _x`` and ``import lib._x`` for the pinned libraries."""
    libraries = {name.replace("-", "_") for name in PINNED}
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in libraries:
            names = node.module.split(".") + [alias.name for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [part for alias in node.names if alias.name.split(".")[0] in libraries for part in alias.name.split(".")]
        else:
            continue
        if any(part.startswith("_") for part in names):
            found.append(f"{path.relative_to(REPO)}:{node.lineno}")
    return found


def test_no_private_modules_or_names_of_the_pinned_libraries_are_imported():
    found = [hit for package in SOURCE_PACKAGES for path in sorted((REPO / package).rglob("*.py")) for hit in private_imports(path)]
    assert not found, found
