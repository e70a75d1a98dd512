"""The factories over users' tables: dual-aspect triplet sampling, instruction clustering and STS tasks."""

import json
import socket
from collections import Counter

import pytest

from mteb_tasks import Aspect, dual_aspect_triplet_task, instruction_clustering_task, instruction_sts_task
from mteb_tasks.sampling import cap_per_label, dual_aspect_triplets, label_answers
from mteb_tasks.tables import read_table

FEEL, TOPIC = "How does the reviewer feel?", "What is being reviewed?"


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("a test tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)


def review_rows() -> list[dict]:
    return [
        {"text": f"{topic} review {n} ({mood})", "topic": topic, "mood": mood}
        for topic in ("phone", "movie", "food")
        for mood in ("good", "bad")
        for n in range(5)
    ]


def labels_of(rows):
    return {row["text"]: row for row in rows}


def test_dual_aspect_triplets_share_the_asked_label_and_differ_on_the_other():
    rows = review_rows()
    by_text = labels_of(rows)
    triplets = dual_aspect_triplets(
        rows, text_column="text", asked_column="mood", other_column="topic", n_triplets=25, seed="1"
    )
    assert len(triplets) == 25
    assert len({t["anchor"] for t in triplets}) == 25  # distinct anchors
    for t in triplets:
        anchor, positive, negative = (by_text[t[c]] for c in ("anchor", "positive", "negative"))
        assert positive["mood"] == anchor["mood"] and positive["topic"] != anchor["topic"]
        assert negative["mood"] != anchor["mood"] and negative["topic"] == anchor["topic"]


def test_sampling_is_seeded():
    args = dict(text_column="text", asked_column="topic", other_column="mood", n_triplets=10)
    first = dual_aspect_triplets(review_rows(), seed="7", **args)
    assert first == dual_aspect_triplets(review_rows(), seed="7", **args)
    assert first != dual_aspect_triplets(review_rows(), seed="8", **args)


def test_an_aspect_that_cannot_anchor_any_triplet_is_a_clear_error():
    rows = [{"text": f"t{n}", "topic": "phone", "mood": m} for n, m in enumerate(["good", "bad"])]  # one topic only
    with pytest.raises(ValueError, match=r"'Tiny': no row of the table can anchor a triplet for 'mood'"):
        dual_aspect_triplets(
            rows,
            text_column="text",
            asked_column="mood",
            other_column="topic",
            n_triplets=5,
            seed="0",
            task_name="Tiny",
        )


GADGET = {"gadget": ["phone"], "something else": "*"}  # "Is it about a gadget or something else?"


def test_triplets_under_an_instruction_that_groups_labels_are_drawn_on_its_answer():
    rows = review_rows()
    by_text = labels_of(rows)
    answer = {"phone": "gadget", "movie": "something else", "food": "something else"}
    triplets = dual_aspect_triplets(
        rows, text_column="text", asked_column="topic", other_column="mood", n_triplets=30, seed="1",
        asked_answers=GADGET,
    )  # fmt: skip
    assert len(triplets) == 30
    for t in triplets:
        anchor, positive, negative = (by_text[t[c]] for c in ("anchor", "positive", "negative"))
        assert answer[positive["topic"]] == answer[anchor["topic"]] and positive["mood"] != anchor["mood"]
        assert answer[negative["topic"]] != answer[anchor["topic"]] and negative["mood"] == anchor["mood"]
    # a movie anchor's positive may be a food review: both answer "something else"
    assert any(by_text[t["anchor"]]["topic"] != by_text[t["positive"]]["topic"] for t in triplets)


def test_label_answers_maps_every_label_once_and_names_what_is_wrong():
    labels = {"phone", "movie", "food"}
    assert label_answers(labels, GADGET) == {"phone": "gadget", "movie": "something else", "food": "something else"}
    assert label_answers(labels, {"a": ["phone", "movie"], "b": ["food"]}) == {"phone": "a", "movie": "a", "food": "b"}
    with pytest.raises(ValueError, match=r"T: label 'phone' is under two answers, 'a' and 'b'"):
        label_answers(labels, {"a": ["phone"], "b": ["phone"], "c": "*"}, "T")
    with pytest.raises(ValueError, match=r"labels \['tablet'\] are not in the table"):
        label_answers(labels, {"gadget": ["tablet"], "else": "*"})
    with pytest.raises(ValueError, match=r"labels \['food', 'movie'\] get no answer"):
        label_answers(labels, {"gadget": ["phone"]})
    with pytest.raises(ValueError, match="only one answer may cover the other labels"):
        label_answers(labels, {"a": "*", "b": "*"})
    with pytest.raises(TypeError, match=r"answer 'gadget' must list labels"):
        label_answers(labels, {"gadget": "phone", "else": "*"})


def test_grouped_answers_change_the_task_revision_and_reach_the_sampler():
    plain = dual_aspect_triplet_task("R", review_rows(), aspects={"topic": ("topic", TOPIC), "mood": ("mood", FEEL)})
    grouped = dual_aspect_triplet_task(
        "R", review_rows(), aspects={"topic": Aspect("topic", TOPIC, GADGET), "mood": ("mood", FEEL)}
    )
    assert grouped.metadata.revision != plain.metadata.revision
    unknown_label = Aspect("topic", TOPIC, {"x": ["tablet"], "y": "*"})
    bad = dual_aspect_triplet_task("Bad", review_rows(), aspects={"topic": unknown_label, "mood": ("mood", FEEL)})
    with pytest.raises(ValueError, match=r"Task 'Bad', 'topic': labels \['tablet'\] are not in the table"):
        bad.load_data()


def test_triplet_factory_builds_one_subset_per_aspect_with_its_instruction():
    task = dual_aspect_triplet_task(
        "ReviewTriplets",
        review_rows(),
        aspects={"topic": Aspect("topic", TOPIC), "mood": ("mood", FEEL)},
        n_triplets=12,
        seed=3,
    )
    assert task.hf_subsets == ["topic", "mood"]
    assert task.instruction_for("topic") == TOPIC and task.instruction_for("mood") == FEEL
    task.load_data()
    assert {subset: len(task.dataset[subset]["test"]) for subset in task.hf_subsets} == {"topic": 12, "mood": 12}
    assert len(task.metadata.revision) == 12  # a fingerprint of the table and the sampling settings
    other = dual_aspect_triplet_task(
        "ReviewTriplets", review_rows(), aspects={"topic": ("topic", TOPIC), "mood": ("mood", FEEL)}, n_triplets=13
    )
    assert other.metadata.revision != task.metadata.revision


def test_triplet_factory_needs_exactly_two_aspects_and_names_a_missing_column():
    with pytest.raises(ValueError, match="exactly two aspects"):
        dual_aspect_triplet_task("One", review_rows(), aspects={"mood": ("mood", FEEL)})
    task = dual_aspect_triplet_task("Bad", review_rows(), aspects={"mood": ("mood", FEEL), "x": ("colour", TOPIC)})
    with pytest.raises(ValueError, match=r"'Bad': row 0 has no column 'colour'"):
        task.load_data()


def test_tables_are_read_from_csv_tsv_jsonl_and_json(tmp_path):
    rows = review_rows()[:3]
    (tmp_path / "t.csv").write_text(
        "text,topic,mood\n" + "".join(f'"{r["text"]}",{r["topic"]},{r["mood"]}\n' for r in rows)
    )
    (tmp_path / "t.tsv").write_text(
        "text\ttopic\tmood\n" + "".join(f"{r['text']}\t{r['topic']}\t{r['mood']}\n" for r in rows)
    )
    (tmp_path / "t.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "t.json").write_text(json.dumps(rows))
    for suffix in ("csv", "tsv", "jsonl", "json"):
        assert read_table(tmp_path / f"t.{suffix}") == rows
    (tmp_path / "t.txt").write_text("x")
    with pytest.raises(ValueError, match="expected one of"):
        read_table(tmp_path / "t.txt")
    (tmp_path / "bad.jsonl").write_text('{"text": 1}\n{oops\n')
    with pytest.raises(ValueError, match=r"bad.jsonl:2: not valid JSON"):
        read_table(tmp_path / "bad.jsonl")


def test_clustering_factory_caps_labels_and_goes_through_the_cluster_set_transform(tmp_path):
    path = tmp_path / "reviews.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in review_rows()))
    task = instruction_clustering_task(
        "ReviewClusters", str(path), label_column="topic", instruction=TOPIC, per_label=4
    )
    assert task.metadata.prompt == TOPIC and task.metadata.main_score == "v_measure"
    task.load_data()
    [cluster_set] = task.dataset["test"]
    assert Counter(cluster_set["labels"]) == {"phone": 4, "movie": 4, "food": 4}
    assert len(set(cluster_set["sentences"])) == 12
    assert task.metadata.dataset["path"] == str(path)


def test_cap_per_label_keeps_order_and_is_seeded():
    rows = review_rows()
    capped = cap_per_label(rows, "topic", 2, "s")
    assert [r for r in rows if r in capped] == capped and len(capped) == 6
    assert capped == cap_per_label(rows, "topic", 2, "s")


def test_sts_factory_with_one_instruction_or_one_per_row():
    pairs = [{"a": f"s{n}", "b": f"t{n}", "gold": str(n), "q": "Who?" if n % 2 else "What?"} for n in range(6)]
    task = instruction_sts_task(
        "PairsA",
        pairs,
        instruction="What?",
        sentence1_column="a",
        sentence2_column="b",
        score_column="gold",
        max_pairs=4,
    )
    task.load_data()
    assert len(task.dataset["test"]) == 4 and task.dataset["test"].column_names == ["sentence1", "sentence2", "score"]
    assert task.row_instructions(task.dataset["test"], "default") == ["What?"] * 4
    per_row = instruction_sts_task(
        "PairsB", pairs, instruction_column="q", sentence1_column="a", sentence2_column="b", score_column="gold"
    )
    per_row.load_data()
    assert per_row.row_instructions(per_row.dataset["test"], "default") == [p["q"] for p in pairs]
    with pytest.raises(ValueError, match="exactly one of instruction= and instruction_column="):
        instruction_sts_task("PairsC", pairs, sentence1_column="a", sentence2_column="b", score_column="gold")
    bad = instruction_sts_task(
        "PairsD",
        [{**pairs[0], "gold": "high"}],
        instruction="What?",
        sentence1_column="a",
        sentence2_column="b",
        score_column="gold",
    )
    with pytest.raises(ValueError, match=r"'PairsD': row 0 has a non-numeric score 'high'"):
        bad.load_data()
