"""`inbedder explain` end to end on a few real review sentences (in-process, with the session's model)."""

import json

import pytest
from conftest import shared_file

from inbedder_st.cli import main
from inbedder_st.explain import cli as explain_cli


@pytest.fixture
def files(tmp_path):
    """12 short sentences: 4 phone and 4 restaurant reviews, with their source labels, plus 4 movie reviews."""
    texts, sources = [], []
    for name in ("amazon_cells", "yelp", "imdb"):
        lines = shared_file(f"dual_aspect/sls/sls_{name}.txt").read_text(encoding="utf-8").splitlines()
        short = [line.rsplit("\t", 1)[0].strip() for line in lines if len(line) < 60][:4]
        texts += short
        sources += [name] * len(short)
    (tmp_path / "texts.txt").write_text("\n".join(texts) + "\n", encoding="utf-8")
    (tmp_path / "source.txt").write_text("\n".join(sources) + "\n", encoding="utf-8")
    (tmp_path / "short.txt").write_text("x\ny\n", encoding="utf-8")
    return tmp_path


@pytest.fixture
def session_model(default_model, monkeypatch):
    monkeypatch.setattr(explain_cli, "load", lambda args: default_model)  # no second model load


def test_explain_writes_report_json_plot_and_embeddings(files, session_model, capsys):
    out = files / "out"
    argv = ["explain", "--input", str(files / "texts.txt"), "--prompt", "What is being reviewed?", "--clusters", "3",
            "--out", str(out), "--labels", f"source={files / 'source.txt'}", "--max-texts", "10", "--seed", "1"]  # fmt: skip
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "clustering 10 of 12 texts (--max-texts)" in captured.err
    assert "V-measure vs source" in captured.out
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["n_texts"] == 10 and report["seed"] == 1
    assert report["notes"] == ["a seeded random sample (--max-texts 10, seed 1) of 10 of the 12 input texts was clustered"]
    assert {row["source"] for row in report["texts"]} <= {"amazon_cells", "yelp", "imdb"}
    assert sum(c["size"] for c in report["clusters"]) == 10
    assert "seeded random sample" in (out / "report.md").read_text(encoding="utf-8")
    assert (out / "clusters.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    import numpy as np

    assert np.load(out / "embeddings.npy").shape == (10, 576)


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--clusters", "13"], "--clusters 13 must be between 1 and the number of input texts (12)"),
        (["--clusters", "2", "--labels", "SHORT"], "has 2 lines for 12 input texts"),
        (["--clusters", "2", "--max-texts", "0"], "--max-texts must be >= 1, got 0"),
        (["--clusters", "3", "--max-texts", "2"], "--clusters 3 is more than the 2 sampled texts"),
    ],
)
def test_bad_arguments_are_named(files, session_model, capsys, extra, message):
    extra = [str(files / "short.txt") if value == "SHORT" else value for value in extra]
    argv = ["explain", "--input", str(files / "texts.txt"), "--prompt", "x", "--out", str(files / "o"), *extra]
    assert main(argv) == 2
    assert message in capsys.readouterr().err
    assert not (files / "o").exists()


def test_empty_input_is_refused(tmp_path, capsys):
    (tmp_path / "empty.txt").write_text("", encoding="utf-8")
    argv = ["explain", "--input", str(tmp_path / "empty.txt"), "--prompt", "x", "--clusters", "1", "--out", str(tmp_path / "o")]
    assert main(argv) == 2
    assert "holds no texts" in capsys.readouterr().err
