"""benchmarks/answer_readouts.py stores states per (instruction, text) between runs; a stored file is read back
only by the model (and store kind) that wrote it, so a retrained model saved to the same folder is never scored
with its predecessor's states. Mechanics only: a tiny Llama (byte-level BPE, like SmolLM2)."""

import sys
from pathlib import Path

import pytest
import torch
from tiny_models import build_llama

import inbedder_st

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from answer_readouts import StateStore  # noqa: E402

TEXTS = ["I love cats.", "The train was late again, and nobody said why."]
PROMPT = "What is this text about?"


@pytest.fixture(scope="module")
def llama(tmp_path_factory):
    return build_llama(tmp_path_factory.mktemp("llama") / "llama")


def stored(model, path: Path) -> StateStore:
    store = StateStore(model, path, first_only=True)
    store.compute(TEXTS, PROMPT)
    store.save()
    return store


def test_stored_states_are_read_back_only_by_the_model_that_computed_them(llama, tmp_path):
    path = tmp_path / "states.pt"
    model = inbedder_st.load_model(str(llama), device="cpu")
    store = stored(model, path)
    again = StateStore(model, path, first_only=True)
    assert set(again.states) == {(PROMPT, text) for text in TEXTS}
    torch.testing.assert_close(again.get(TEXTS, PROMPT)[0], store.get(TEXTS, PROMPT)[0])

    with pytest.raises(ValueError, match="another model or store"):
        StateStore(model, path, first_only=False)  # the answer steps were never stored
    retrained = inbedder_st.load_model(str(llama), device="cpu")
    with torch.no_grad():
        next(retrained[0].model.parameters()).add_(0.01)
    with pytest.raises(ValueError, match="states.pt"):
        StateStore(retrained, path, first_only=True)


def test_state_files_written_before_identities_load_with_a_warning(llama, tmp_path, capsys):
    path = tmp_path / "old.pt"
    model = inbedder_st.load_model(str(llama), device="cpu")
    torch.save(stored(model, tmp_path / "new.pt").states, path)  # the old format: the states dict alone
    again = StateStore(model, path, first_only=True)
    assert "records no model identity" in capsys.readouterr().err
    assert set(again.states) == {(PROMPT, text) for text in TEXTS}


def test_readout_summary_names_the_weakest_held_out_aspect():
    from answer_readouts import suite_summary

    held_a, held_b = "LaptopACOSTripletsHeldOutEitherOr", "HuLiuReviewsTripletsHeldOutImplicitYesNo"
    dev = "LaptopACOSTriplets"
    scores = {held_a: 0.70, held_b: 0.60, dev: 0.80, "EmotionClusteringHeldOutImplicit": 0.30}
    aspects = {f"{held_a}/sentiment": 0.75, f"{held_a}/aspect": 0.66, f"{held_b}/sentiment": 0.58,
               f"{held_b}/product": 0.62, f"{dev}/sentiment": 0.40}  # fmt: skip
    summary = suite_summary(scores, aspects, list(scores))
    assert summary["weakest"] == f"{held_b}/sentiment"  # the dev aspect (0.40) is not on the held-out split
    assert summary["lowest"] == pytest.approx(0.58)
    assert summary["heldout"] == pytest.approx(0.65)  # triplets only: the clustering task is not averaged
    assert summary["dev"] == pytest.approx(0.80)
    assert suite_summary({dev: 0.8}, {}, [dev])["weakest"] is None
