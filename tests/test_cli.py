"""The `inbedder` command end to end on small files (in-process, reusing the warm model cache)."""

import json
import subprocess
import sys

import numpy as np
import pytest

import inbedder_st
from inbedder_st.cli import main

TEXTS = ["I love cat!", "", "The refund never arrived."]
INSTRUCTION = "How does the customer feel?"


@pytest.fixture
def text_file(tmp_path):
    path = tmp_path / "texts.txt"
    path.write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    return path


def test_encode_to_npy_matches_the_python_api(default_model, text_file, tmp_path, capsys):
    out = tmp_path / "emb.npy"
    assert main(["encode", "--prompt", INSTRUCTION, "--input", str(text_file), "--output", str(out)]) == 0
    saved = np.load(out)
    assert saved.shape == (3, 576)
    np.testing.assert_allclose(saved, default_model.encode(TEXTS, prompt=INSTRUCTION), atol=1e-5)
    assert "encoded 3 texts" in capsys.readouterr().err


def test_encode_to_jsonl_from_jsonl_input(default_model, tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(json.dumps({"text": t}) for t in TEXTS), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    assert main(["encode", "--prompt-name", "emotion", "--input", str(source), "--output", str(out)]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["text"] for r in rows] == TEXTS
    np.testing.assert_allclose(
        np.array([r["embedding"] for r in rows]), default_model.encode(TEXTS, prompt=INSTRUCTION), atol=1e-5
    )


def test_answer_prints_text_and_answer(text_file, capsys, default_model):
    assert main(["answer", "--prompt", "What animal is mentioned?", "--input", str(text_file)]) == 0
    lines = capsys.readouterr().out.splitlines()
    expected = inbedder_st.answer(default_model, TEXTS, prompt="What animal is mentioned?")
    assert lines == [f"{t}\t-> {a}" for t, a in zip(TEXTS, expected)]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["encode", "--prompt", "x", "--input", "/no/such/file.txt"], "cannot read input"),
        (["encode", "--prompt", "x", "--output", "emb.csv"], "--output must end with"),
        (["encode", "--prompt-name", "nope", "--input", "TEXTS"], "Prompt name 'nope' not found"),
        (["answer", "--prompt", "x", "--batch-size", "0"], "--batch-size must be >= 1"),
    ],
)
def test_bad_arguments_exit_non_zero_with_one_line(argv, message, text_file, capsys):
    argv = [str(text_file) if a == "TEXTS" else a for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_bad_jsonl_names_the_line(tmp_path, capsys):
    source = tmp_path / "bad.jsonl"
    source.write_text('{"text": "ok"}\n{"txt": 3}\n', encoding="utf-8")
    assert main(["encode", "--prompt", "x", "--input", str(source)]) == 2
    assert "bad.jsonl:2" in capsys.readouterr().err


def test_a_blank_jsonl_line_is_an_error_not_a_skipped_row(tmp_path, capsys):
    # one embedding per input line: a skipped line would shift every later row
    source = tmp_path / "gap.jsonl"
    source.write_text('{"text": "ok"}\n\n{"text": "also ok"}\n', encoding="utf-8")
    assert main(["encode", "--prompt", "x", "--input", str(source)]) == 2
    assert "gap.jsonl:2" in capsys.readouterr().err


@pytest.mark.parametrize("command", [[], ["encode"], ["answer"], ["demo"]])
def test_help_everywhere(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(command + ["--help"])
    assert exit_info.value.code == 0 and "usage: inbedder" in capsys.readouterr().out


def test_console_script_is_installed():
    done = subprocess.run([sys.executable, "-m", "inbedder_st.cli", "encode", "--bogus"], capture_output=True, text=True)
    assert done.returncode == 2 and "unrecognized arguments: --bogus" in done.stderr
