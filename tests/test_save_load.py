"""Save/load round trips: a plain SentenceTransformer reloads a saved InBedder, no trust_remote_code."""

import json

import numpy as np
import pytest
from sentence_transformers import SentenceTransformer

import inbedder_st
from inbedder_st import default

TEXTS = ["I love cat!", "The refund never arrived and I am angry.", ""]
INSTRUCTION = "How does the customer feel?"


@pytest.fixture(scope="module")
def saved_default(default_model, tmp_path_factory):
    folder = tmp_path_factory.mktemp("saved") / "my-inbedder"
    default_model.save(str(folder))
    return folder


def test_plain_sentence_transformer_reloads_identical_embeddings(default_model, saved_default):
    reloaded = SentenceTransformer(str(saved_default), trust_remote_code=True)  # imports the installed inbedder_st
    assert isinstance(reloaded[0], inbedder_st.InBedder)
    before = default_model.encode(TEXTS, prompt=INSTRUCTION)
    after = reloaded.encode(TEXTS, prompt=INSTRUCTION)
    assert np.abs(before - after).max() <= 1e-5
    np.testing.assert_array_equal(
        reloaded.encode(TEXTS, prompt_name="emotion"), default_model.encode(TEXTS, prompt_name="emotion")
    )


def test_saved_folder_holds_safetensors_and_the_module_config(default_model, saved_default):
    files = {p.name for p in saved_default.iterdir()}
    assert {"model.safetensors", "inbedder_config.json", "modules.json", "tokenizer.json"} <= files
    assert not any(name.endswith((".bin", ".pt", ".pkl")) for name in files)
    config = json.loads((saved_default / "inbedder_config.json").read_text())
    assert config == default_model[0].get_config_dict()
    assert config["backbone"] == default.FINE_TUNED_NAME
    st_config = json.loads((saved_default / "config_sentence_transformers.json").read_text())
    assert st_config["prompts"]["emotion"] == INSTRUCTION


def test_sentence_transformers_is_not_patched_and_asks_for_the_flag(saved_default):
    """Importing inbedder_st leaves sentence-transformers' private class map alone (issue 15, item 3)."""
    assert dict(SentenceTransformer._module_classes) == {}
    assert "_module_classes" not in vars(inbedder_st.InBedderModel)
    with pytest.raises(ValueError, match="trust_remote_code=True"):
        SentenceTransformer(str(saved_default))


def test_load_model_imports_no_class_other_than_ours(saved_default, tmp_path):
    for name in ("modules.json", "inbedder_config.json", "config_sentence_transformers.json"):
        (tmp_path / name).write_bytes((saved_default / name).read_bytes())
    modules = json.loads((tmp_path / "modules.json").read_text())
    modules.append({"idx": len(modules), "name": "1", "path": "1_Evil", "type": "evil_package.Module"})
    (tmp_path / "modules.json").write_text(json.dumps(modules))
    with pytest.raises(ValueError, match="'evil_package.Module'.*neither sentence-transformers' nor InBedder's"):
        inbedder_st.load_model(str(tmp_path))


def test_load_model_reloads_a_saved_folder_and_rejects_module_options(saved_default):
    model = inbedder_st.load_model(str(saved_default))
    assert isinstance(model, inbedder_st.InBedderModel)
    with pytest.raises(TypeError, match="pooling"):
        inbedder_st.load_model(str(saved_default), pooling="avg_gen")


def test_non_default_settings_survive_a_round_trip(tmp_path):
    model = inbedder_st.load_model(
        pooling="avg_gen", layer=-3, template="alpaca", max_length=128, max_new_tokens=2,
        filter_words=["customer"], default_instruction="What is the mood?",
    )  # fmt: skip
    model.save(str(tmp_path))
    reloaded = SentenceTransformer(str(tmp_path), trust_remote_code=True)
    assert reloaded[0].get_config_dict() == model[0].get_config_dict()
    assert np.abs(model.encode(TEXTS, prompt=INSTRUCTION) - reloaded.encode(TEXTS, prompt=INSTRUCTION)).max() <= 1e-5


def test_any_local_causal_lm_folder_is_wrapped(default_model):
    # The converted default backbone is a plain Hugging Face causal-LM folder: wrap it like any other.
    wrapped = inbedder_st.load_model(str(default.ensure_default()), pooling="fst_gen")
    assert isinstance(wrapped[0], inbedder_st.InBedder)
    np.testing.assert_allclose(
        wrapped.encode(TEXTS, prompt=INSTRUCTION), default_model.encode(TEXTS, prompt=INSTRUCTION), atol=1e-5
    )


def test_warm_default_load_reads_the_conversion_cache(tmp_path, monkeypatch):
    source = default.gguf_path()
    monkeypatch.setenv("INBEDDER_CACHE", str(tmp_path))
    target = default.converted_dir(source)
    assert target.parent == tmp_path and str(source.stat().st_size) in target.name
    # A cache hit must not convert again: plant the real converted folder and forbid conversion.
    monkeypatch.delenv("INBEDDER_CACHE")
    real = default.ensure_converted()
    monkeypatch.setenv("INBEDDER_CACHE", str(tmp_path))
    target.symlink_to(real, target_is_directory=True)
    monkeypatch.setattr("transformers.AutoModelForCausalLM.from_pretrained", None)
    assert default.ensure_converted() == target


@pytest.mark.parametrize("pooling, layer", [("fst_gen", -1), ("avg_gen", -3)])
def test_multi_process_encoding_matches_single_process(fresh_default, pooling, layer):
    fresh_default[0].pooling, fresh_default[0].layer = pooling, layer
    single = fresh_default.encode(TEXTS, prompt=INSTRUCTION)  # runs first, as it would in a user's program
    multi = fresh_default.encode(TEXTS, prompt=INSTRUCTION, device=["cpu", "cpu"], chunk_size=2)
    # the workers batch differently (chunks of 2) and run other thread counts: float32 reduction noise, which
    # grows with the states' scale (avg_gen of layer -3 reaches |x| ~ 15), so the bound is relative to it
    assert np.abs(single - multi).max() <= 1e-5 * np.abs(single).max()
