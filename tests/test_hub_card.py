"""Model-card pieces without a model: evaluation files -> table and model-index, recipe, fields, packaging."""

import json
import shutil
from fnmatch import fnmatch
from pathlib import Path

import pytest
from huggingface_hub import ModelCardData

import model_cards
from inbedder_st import default
from inbedder_st.hub import CardFields, default_card_fields
from inbedder_st.hub.card import recipe_rows
from inbedder_st.hub.results import eval_results, read_evaluation

REPO = Path(__file__).resolve().parents[1]
DEFAULT_RESULTS = model_cards.default_dir() / "dev_results" / "default"


def result_files(folder: Path) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in folder.glob("*.json") if p.name != "model_meta.json"}


def test_scores_are_the_main_scores_of_the_result_files():
    evaluation = read_evaluation(DEFAULT_RESULTS)
    files = result_files(DEFAULT_RESULTS)
    expected = {(name, e["hf_subset"]): e["main_score"] for name, data in files.items() for e in data["scores"]["test"]}
    assert {(s.task, s.subset): s.value for s in evaluation.scores} == expected
    assert evaluation.model_name == json.loads((DEFAULT_RESULTS / "model_meta.json").read_text())["name"]
    by_task = {s.task: s for s in evaluation.scores}
    # The metric that the main score is, found from the file (STS: spearman == cosine_spearman -> cosine_spearman).
    assert (by_task["STSBNeutralInstruction"].metric, by_task["STSBNeutralInstruction"].task_type) == (
        "cosine_spearman",
        "STS",
    )
    assert (by_task["EmotionClustering"].metric, by_task["EmotionClustering"].task_type) == ("v_measure", "Clustering")
    assert by_task["LaptopACOSTriplets"].metric == "success_rate"
    assert by_task["EmotionClustering"].dataset_revision == files["EmotionClustering"]["dataset_revision"]


def test_the_table_adds_the_harmonic_mean_of_two_aspect_tasks():
    table = {(task, subset): score for task, subset, score in read_evaluation(DEFAULT_RESULTS).table}
    entity, sentiment = table[("LaptopACOSTriplets", "entity")], table[("LaptopACOSTriplets", "sentiment")]
    assert table[("LaptopACOSTriplets", "HM(entity, sentiment)")] == pytest.approx(
        2 * entity * sentiment / (entity + sentiment)
    )


def test_model_index_entries_validate_and_carry_the_scores_x100():
    evaluation = read_evaluation(DEFAULT_RESULTS)
    results = eval_results(evaluation)
    data = ModelCardData(model_name="m", eval_results=results)  # huggingface_hub validates them here
    model_index = data.to_dict()["model-index"][0]["results"]
    assert len(model_index) == len(evaluation.scores) == 10
    values = {(r["dataset"]["name"], r["metrics"][0]["type"]): r["metrics"][0]["value"] for r in model_index}
    main = result_files(DEFAULT_RESULTS)["FewRelRelationClustering"]["scores"]["test"][0]["main_score"]
    assert values[("FewRelRelationClustering", "v_measure")] == round(100 * main, 2)


def test_an_evaluate_output_folder_with_one_model_reads_and_with_two_asks_which(tmp_path):
    one = tmp_path / "eval" / "results" / "org__model" / "rev1"
    shutil.copytree(DEFAULT_RESULTS, one)
    assert read_evaluation(tmp_path / "eval").model_revision == read_evaluation(DEFAULT_RESULTS).model_revision
    shutil.copytree(DEFAULT_RESULTS, tmp_path / "eval" / "results" / "org__other" / "rev2")
    with pytest.raises(ValueError, match="results of 2 models.*rev1"):
        read_evaluation(tmp_path / "eval")
    with pytest.raises(FileNotFoundError, match="No mteb results"):
        read_evaluation(tmp_path)


def test_recipe_rows_come_from_the_shipped_training_recipe():
    recipe = json.loads((default.ADAPTER_DIR / "training_recipe.json").read_text())
    rows = recipe_rows(recipe)
    assert rows["optimisation"].startswith(
        f"{recipe['result']['steps']} steps of {recipe['config']['batch_size'] * recipe['config']['grad_accum']} examples"
    )
    assert f"r={recipe['config']['lora_r']}" in rows["method"]
    assert f"{recipe['result']['eval_loss_after']:.2f} after" in rows["eval_loss"]
    assert f"{recipe['result']['train_records']:,} training" in rows["data"]


def test_card_fields_reject_unknown_names_and_bad_lists():
    with pytest.raises(TypeError, match=r"Unknown card field\(s\) \['licence'\].*'license'"):
        CardFields.from_kwargs(licence="mit")
    with pytest.raises(TypeError, match="'datasets' must be a list of strings"):
        CardFields.from_kwargs(datasets=[1, 2])
    assert CardFields.from_kwargs(language="fr").language == ["fr"]


def test_the_default_card_fields_point_at_files_that_exist():
    fields = default_card_fields()
    assert Path(fields.results).is_dir() and Path(fields.recipe).is_file()
    assert fields.baselines and all(Path(p).is_dir() for p in fields.baselines.values())
    assert fields.license == "apache-2.0" and fields.base_model == "HuggingFaceTB/SmolLM2-135M-Instruct"


def test_model_cards_files_are_shipped_as_package_data():
    """Every template and data file matches a package-data pattern, so installed users get them."""
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert any(pattern.startswith("model_cards") for pattern in config["packages"]["find"]["include"])
    patterns = config["package-data"]["model_cards"]
    folder = REPO / "model_cards"
    data_files = [
        p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file() and p.suffix in (".md", ".json")
    ]
    assert "inbedder.md" in data_files
    unshipped = [
        f
        for f in data_files
        if not any(fnmatch(f, pattern) and f.count("/") == pattern.count("/") for pattern in patterns)
    ]
    assert unshipped == []
