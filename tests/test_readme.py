"""Every ```python block of the README runs as written."""

import re

import pytest

from conftest import REPO

BLOCKS = re.findall(r"```python\n(.*?)```", (REPO / "README.md").read_text(encoding="utf-8"), flags=re.S)


def test_the_readme_has_python_examples():
    assert len(BLOCKS) >= 3


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_example_runs(index, tmp_path, monkeypatch, default_model, request):
    if "inbedder_st.distributed" in BLOCKS[index]:
        request.getfixturevalue("ray_session")  # the optional extra: skips without Ray, else shares the tests' Ray
    monkeypatch.chdir(tmp_path)  # examples write to out/
    exec(compile(BLOCKS[index], f"README.md[python block {index}]", "exec"), {"__name__": "__readme__"})
