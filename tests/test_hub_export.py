"""export() on the shipped default: a folder SentenceTransformer loads back, and a card a user can trust."""

import json
import time

import numpy as np
import pytest
from huggingface_hub import ModelCard
from sentence_transformers import SentenceTransformer

import inbedder_st
from inbedder_st import default, hub
from inbedder_st.hub.results import eval_results, read_evaluation

TEXTS = ["I'm furious, you charged me twice!", "Thanks, my refund arrived.", "My new card never came.", ""]
INSTRUCTION = "How does the customer feel?"


@pytest.fixture(scope="module")
def exported(default_model, tmp_path_factory):
    folder = tmp_path_factory.mktemp("export") / "inbedder-default"
    started = time.monotonic()
    result = hub.export(default_model, folder, model_id="my-org/inbedder-default")
    print(f"\nexported the default: {result.size_bytes / 1e6:.1f} MB in {time.monotonic() - started:.1f} s")
    return result


def test_the_exported_folder_reloads_with_identical_embeddings(default_model, exported):
    reloaded = SentenceTransformer(str(exported.folder), trust_remote_code=True)  # imports the installed inbedder_st
    assert isinstance(reloaded[0], inbedder_st.InBedder)
    np.testing.assert_array_equal(
        reloaded.encode(TEXTS, prompt=INSTRUCTION), default_model.encode(TEXTS, prompt=INSTRUCTION)
    )
    assert reloaded.prompts["emotion"] == default_model.prompts["emotion"]


def test_the_folder_holds_the_sentence_transformers_files_and_safetensors(default_model, exported):
    files = set(exported.files)
    assert {"modules.json", "config_sentence_transformers.json", "inbedder_config.json", "model.safetensors",
            "config.json", "tokenizer.json", "README.md"} <= files  # fmt: skip
    assert not any(name.endswith((".bin", ".pt", ".pkl")) for name in files)
    modules = json.loads((exported.folder / "modules.json").read_text())
    assert modules[0]["type"] == "inbedder_st.module.InBedder" and modules[0]["path"] == ""
    st_config = json.loads((exported.folder / "config_sentence_transformers.json").read_text())
    assert st_config["prompts"]["intent"] == "What does the customer need?"
    assert json.loads((exported.folder / "inbedder_config.json").read_text()) == default_model[0].get_config_dict()


def test_the_card_metadata_parses_and_describes_the_default(exported):
    card = ModelCard.load(exported.folder / "README.md")
    data = card.data
    assert data.library_name == "sentence-transformers" and data.pipeline_tag == "sentence-similarity"
    assert {"sentence-transformers", "inbedder", "instruction-following"} <= set(data.tags)
    assert data.base_model == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert data.license == "apache-2.0" and data.language == ["en"]
    assert "rajpurkar/squad" in data.datasets


def test_the_model_index_round_trips_to_the_dev_suite_results(exported):
    card = ModelCard.load(exported.folder / "README.md")
    expected = eval_results(read_evaluation(hub.default_card_fields().results))
    assert card.data.eval_results == expected
    assert {r.dataset_name for r in card.data.eval_results} >= {"EmotionClustering", "LaptopACOSTriplets (entity)"}


def test_the_card_text_has_usage_recipe_evaluation_citation_and_limitations(exported):
    text = (exported.folder / "README.md").read_text()
    recipe = json.loads((default.ADAPTER_DIR / "training_recipe.json").read_text())
    for needed in (
        "pip install inbedder-st",
        'SentenceTransformer("my-org/inbedder-default", trust_remote_code=True)',
        'prompt_name="emotion"',
        "## Training",
        f"{recipe['result']['steps']} steps",
        "## Evaluation",
        "## Limitations",
        "## Citation",
        "arXiv",
        "2402.09642",
        "CC BY-SA 4.0",
    ):
        assert needed in text, needed
    # The evaluation table shows the stored results, this model first, then the baselines.
    evaluation = read_evaluation(hub.default_card_fields().results)
    emotion = next(score for task, _, score in evaluation.table if task == "EmotionClustering")
    row = next(line for line in text.splitlines() if line.startswith("| EmotionClustering |"))
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert cells[3] == f"{100 * emotion:.2f}" and len(cells) == 6 and "-" not in cells[4:]


def test_an_adapter_export_is_small_and_loads_through_the_same_path(default_model, tmp_path):
    result = hub.export(default_model, tmp_path / "adapter", weights="adapter")
    assert "model.safetensors" not in result.files and "adapter_model.safetensors" in result.files
    assert result.size_bytes < 20e6
    config = json.loads((result.folder / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == str(default.ensure_converted())
    reloaded = SentenceTransformer(str(result.folder), trust_remote_code=True)  # base + LoRA applied by peft
    before, after = default_model.encode(TEXTS, prompt=INSTRUCTION), reloaded.encode(TEXTS, prompt=INSTRUCTION)
    assert np.abs(before - after).max() < 1e-4  # merged vs. applied LoRA: same maths, other rounding
    assert "LoRA adapter only" in (result.folder / "README.md").read_text()


def test_export_refuses_to_mix_with_other_files_and_names_bad_options(default_model, tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not empty"):
        hub.export(default_model, tmp_path)
    with pytest.raises(FileExistsError, match="holds no earlier export"):
        hub.export(default_model, tmp_path, overwrite=True)
    assert (tmp_path / "notes.txt").exists()
    with pytest.raises(ValueError, match=r"Unknown weights 'lora'.*'merged', 'adapter'"):
        hub.export(default_model, tmp_path / "a", weights="lora")
    with pytest.raises(ValueError, match=r"Unknown dtype 'fp8'"):
        hub.export(default_model, tmp_path / "b", dtype="fp8")
    with pytest.raises(TypeError, match=r"Unknown card field\(s\) \['licence'\]"):
        hub.export(default_model, tmp_path / "c", licence="mit")
    with pytest.raises(TypeError, match="first module is InBedder"):
        hub.export(object(), tmp_path / "d")
    with pytest.raises(FileNotFoundError, match="missing.*is not a folder"):
        hub.export(default_model, tmp_path / "e", results=tmp_path / "missing")
    assert not any((tmp_path / name).exists() for name in "abcde")  # nothing written before the checks pass
