"""Harmonic means, the paper's instruction-awareness score and the results table (markdown, CSV)."""

import csv
import io
import json

import numpy as np
import pytest

from mteb_tasks import harmonic_mean, read_results, summary_rows, write_results_table
from mteb_tasks.aggregate import INSTRUCTION_AWARENESS, Row, results_table


def result(name: str, **subsets: float) -> dict:
    """The JSON of an mteb TaskResult with only what the summary reads."""
    return {"task_name": name, "scores": {"test": [{"hf_subset": s, "main_score": v} for s, v in subsets.items()]}}


PAPER_RESULTS = {
    "IntentEmotion": result("IntentEmotion", emotion=0.6, intent=0.4),
    "InstructSTSBenchmark": result("InstructSTSBenchmark", default=0.5),
    "NYTTopicClustering": result("NYTTopicClustering", default=0.3),
    "NYTLocationClustering": result("NYTLocationClustering", default=0.6),
    "FewRelClustering": result("FewRelClustering", default=0.45),
}


def test_harmonic_mean_is_the_papers():
    assert harmonic_mean(0.5, 0.5) == pytest.approx(0.5)
    assert harmonic_mean(0.6, 0.4) == pytest.approx(0.48)
    assert harmonic_mean(1.0, 0.0) == pytest.approx(0.0, abs=1e-7)


def test_summary_rows_with_the_instruction_awareness_average():
    rows = summary_rows(PAPER_RESULTS)
    by_key = {(r.task, r.subset): r.score for r in rows}
    assert by_key[("IntentEmotion", "HM(emotion, intent)")] == pytest.approx(0.48)
    assert by_key[("NYTClustering", "HM(NYTTopicClustering, NYTLocationClustering)")] == pytest.approx(0.4)
    assert by_key[("InstructSTSBenchmark", "")] == 0.5
    # the paper's Avg: mean of IntentEmotion HM, NYT HM and InstructSTSB Spearman
    assert by_key[(INSTRUCTION_AWARENESS, "")] == pytest.approx((0.48 + 0.4 + 0.5) / 3)
    assert rows[-1].task == INSTRUCTION_AWARENESS
    assert not any(
        r.task == INSTRUCTION_AWARENESS for r in summary_rows({"FewRelClustering": PAPER_RESULTS["FewRelClustering"]})
    )


def test_robustness_rows_appear_when_all_variant_kinds_ran():
    results = {"T": result("T", default=0.9)}
    for kind, score in (("correct", 0.8), ("implicit", 0.6), ("incorrect", 0.5)):
        results[f"T__{kind}00"] = result(f"T__{kind}00", default=score)
    rows = summary_rows(results)
    assert Row("T", "dci", pytest.approx(0.3)) in rows and Row("T", "dii", pytest.approx(0.1)) in rows
    assert not any("__" in r.task for r in rows)


def triplets(name: str, n: int = 100, **subsets: float) -> dict:
    entries = [{"hf_subset": s, "main_score": v, "success_rate": v, "n_triplets": n} for s, v in subsets.items()]
    return {"task_name": name, "scores": {"validation": entries}}


def test_triplet_suite_rows_give_the_mean_hm_its_standard_error_and_the_lowest_aspect():
    results = {"A": triplets("A", topic=0.6, mood=0.9), "B": triplets("B", topic=0.45, mood=0.8),
               "C": result("C", default=0.3), "A__incorrect00": triplets("A__incorrect00", topic=0.1, mood=0.1)}
    by_key = {(r.task, r.subset): r.score for r in summary_rows(results)}
    mean = (harmonic_mean(0.6, 0.9) + harmonic_mean(0.45, 0.8)) / 2
    assert by_key[("Mean triplet HM", "mean of 2 tasks")] == pytest.approx(mean)
    assert by_key[("Lowest triplet aspect accuracy", "")] == pytest.approx(0.45)  # the variant is not counted
    se = by_key[("Mean triplet HM", "standard error")]
    # a Monte Carlo check of the delta method: resample each aspect's 100 triplets
    rng = np.random.default_rng(0)
    draws = [np.mean([harmonic_mean(rng.binomial(100, a) / 100, rng.binomial(100, b) / 100)
                      for a, b in ((0.6, 0.9), (0.45, 0.8))]) for _ in range(4000)]  # fmt: skip
    assert se == pytest.approx(np.std(draws), rel=0.1) and 0.02 < se < 0.04
    more = {name: triplets(name, n=400, topic=0.6, mood=0.9) for name in "AB"}
    assert {(r.task, r.subset): r.score for r in summary_rows(more)}[("Mean triplet HM", "standard error")] < se
    assert not any(r.task == "Mean triplet HM" for r in summary_rows({"A": results["A"], "C": results["C"]}))


def test_results_table_across_models_as_markdown_and_csv(tmp_path):
    other = {"IntentEmotion": result("IntentEmotion", emotion=0.5, intent=0.5)}
    markdown = write_results_table({"model/a": PAPER_RESULTS, "model/b": other}, tmp_path / "t.md", tmp_path / "t.csv")
    lines = markdown.splitlines()
    assert lines[0] == "| Task | Subset | model/a | model/b |"
    assert "| IntentEmotion | HM(emotion, intent) | 48.00 | 50.00 |" in lines
    assert "| FewRelClustering |  | 45.00 | - |" in lines
    table = list(csv.reader(io.StringIO((tmp_path / "t.csv").read_text())))
    assert table[0] == ["Task", "Subset", "model/a", "model/b"]
    assert ["InstructSTSBenchmark", "", "50.00", "-"] in table
    assert results_table({"m/x": PAPER_RESULTS})[1][-1] == [INSTRUCTION_AWARENESS, "", "46.00"]


def test_read_results_finds_models_experiments_and_keeps_the_task_order(tmp_path):
    def save(model_dir, meta, tasks):
        folder = tmp_path / "results" / model_dir
        folder.mkdir(parents=True)
        (folder / "model_meta.json").write_text(json.dumps(meta))
        for name, data in tasks.items():
            (folder / f"{name}.json").write_text(json.dumps(data))

    save("org__m/rev", {"name": "org/m", "experiment_kwargs": None}, PAPER_RESULTS)
    save(
        "org__m/rev/experiments/instructions_prepend",
        {"name": "org/m", "experiment_kwargs": {"instructions": "prepend"}},
        PAPER_RESULTS,
    )
    found = read_results(tmp_path, ["NYTTopicClustering", "IntentEmotion", "Missing"])
    assert set(found) == {"org/m", "org/m (instructions=prepend)"}
    assert list(found["org/m"]) == ["NYTTopicClustering", "IntentEmotion"]
