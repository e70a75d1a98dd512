"""QA data readers: every shipped file in ../shared/data/qa, the generic reader and the dispatcher."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from conftest import SHARED_DATA, shared_file
from inbedder_st.train.readers import (
    KNOWN_QA_FILES,
    read_boolq,
    read_cosmosqa,
    read_pubmedqa,
    read_qa_file,
    read_records,
    read_squad,
    read_table,
    read_tweetqa,
    shared_qa_files,
)
from inbedder_st.train.records import QARecord

FIXTURES = Path(__file__).parent / "fixtures" / "qa"

# file -> (records, source). All counts are DATA.md's and match the files exactly: every question in the
# shipped files has a non-empty answer, so nothing is skipped. (XQuAD's "240 paragraphs" are spread over
# 48 articles; ROPES has one article each, 1,412 / 203 background+situation paragraphs.)
EXPECTED = {
    "squad_v1.1_du_test.json": (11877, "squad"),
    "xquad_en.json": (1190, "xquad"),
    "tweetqa_train.json": (10692, "tweetqa"),
    "tweetqa_dev.json": (1086, "tweetqa"),
    "ropes_train.json": (10924, "ropes"),
    "ropes_dev.json": (1688, "ropes"),
    "boolq_val.jsonl": (3270, "boolq"),
    "pubmedqa_pqal.json": (1000, "pubmedqa"),
    "cosmosqa_valid.csv": (2985, "cosmosqa"),
}

_cache: dict[str, list[QARecord]] = {}


def records(name: str) -> list[QARecord]:
    path = shared_file(f"qa/{name}")
    if name not in _cache:
        skipped = Counter()
        _cache[name] = read_qa_file(path, skipped=skipped)
        assert not skipped, f"{name}: unexpectedly skipped {dict(skipped)}"
    return _cache[name]


def is_normal(text: str) -> bool:
    return text == " ".join(text.split())


def test_known_files_are_the_shipped_ones():
    assert set(KNOWN_QA_FILES) == set(EXPECTED)
    assert {name: source for name, (_, source) in EXPECTED.items()} == KNOWN_QA_FILES
    qa = shared_file("qa")
    assert sorted(p.name for p in qa.iterdir()) == sorted(KNOWN_QA_FILES)
    assert [p.name for p in shared_qa_files(qa)] == list(KNOWN_QA_FILES)
    assert shared_qa_files(SHARED_DATA / "no-such-folder") == []


@pytest.mark.parametrize("name", list(EXPECTED))
def test_shipped_file_counts_and_fields(name):
    count, source = EXPECTED[name]
    recs = records(name)
    assert len(recs) == count
    for r in recs:
        assert r.input and r.instruction and r.output and r.source == source
        assert is_normal(r.instruction) and is_normal(r.output)
        assert all(part and is_normal(part) for part in r.input.split("\n\n"))


def test_squad():
    r = records("squad_v1.1_du_test.json")[0]
    assert r.instruction == "To whom did the Virgin Mary allegedly appear in 1858 in Lourdes France?"
    assert r.output == "Saint Bernadette Soubirous"
    assert r.input.startswith("Architecturally, the school has a Catholic character.") and "\n" not in r.input
    # the direct reader gives the same records (source from the file name)
    assert read_squad(shared_file("qa/squad_v1.1_du_test.json"))[:5] == records("squad_v1.1_du_test.json")[:5]


def test_xquad():
    r = records("xquad_en.json")[0]
    assert (r.instruction, r.output) == ("How many points did the Panthers defense surrender?", "308")
    assert r.input.startswith("The Panthers defense gave up just 308 points")


def test_ropes_input_is_background_then_situation():
    r = records("ropes_train.json")[0]
    assert (r.instruction, r.output) == ("Which cup has a higher concentration of sugar?", "cup B")
    background, situation = r.input.split("\n\n")
    assert background.startswith("Passive transport occurs when a substance passes through the cell membrane")
    assert situation.startswith("A man put two cups, cup A and cup B, filled with equal amounts of water")
    assert all(len(r.input.split("\n\n")) == 2 for r in records("ropes_dev.json"))
    assert records("ropes_dev.json")[0].output == "Group B"


def test_tweetqa_both_layouts():
    train = records("tweetqa_train.json")
    assert (train[0].instruction, train[0].output) == (
        "at which school were first responders on the scene for?",
        "independence high school",
    )
    assert train[0].input.startswith("Our prayers are with the students, educators & families")
    assert (train[1].instruction, train[1].output) == ("what website is linked in the tweet?", "instagram")
    dev = records("tweetqa_dev.json")[0]  # Answer is a list of two annotators' answers: the first is kept
    assert (dev.instruction, dev.output) == ("who has the most to lose", "w nj")
    assert read_tweetqa(shared_file("qa/tweetqa_dev.json"))[:3] == records("tweetqa_dev.json")[:3]


def test_boolq_yes_no_and_question_mark():
    recs = records("boolq_val.jsonl")
    assert Counter(r.output for r in recs) == {"yes": 2033, "no": 1237}
    assert all(r.instruction.endswith("?") and not r.instruction.endswith("??") for r in recs)
    assert recs[0].instruction == "does ethanol take more energy make that produces?" and recs[0].output == "no"
    assert recs[0].input.startswith("Ethanol fuel -- All biomass goes through")
    assert read_boolq(shared_file("qa/boolq_val.jsonl"))[:3] == recs[:3]


def test_pubmedqa_contexts_joined():
    recs = records("pubmedqa_pqal.json")
    assert Counter(r.output for r in recs) == {"yes": 552, "no": 338, "maybe": 110}
    r = recs[0]  # PMID 21645374: its contexts joined by blank lines
    assert r.instruction.startswith("Do mitochondria play a role in remodelling lace plant leaves")
    assert r.output == "yes"
    raw = json.loads(shared_file("qa/pubmedqa_pqal.json").read_text(encoding="utf-8"))["21645374"]
    assert r.input.split("\n\n") == [" ".join(c.split()) for c in raw["CONTEXTS"]]
    assert "ΔΨm" in r.input  # unicode kept
    assert read_pubmedqa(shared_file("qa/pubmedqa_pqal.json"))[0] == r


def test_cosmosqa_labelled_answer():
    r = records("cosmosqa_valid.csv")[0]  # label 1
    assert r.instruction == "Why is this person asking about divorce ?"
    assert r.output == "He wants to get married to a different person ."
    assert r.input.startswith("Do i need to go for a legal divorce ?")
    assert read_cosmosqa(shared_file("qa/cosmosqa_valid.csv"))[0] == r


# --- generic reader, records and dispatcher on self-written fixtures --------------------------------


def test_generic_jsonl_defaults_normalises_and_counts_skips(caplog):
    skipped = Counter()
    recs = read_table(FIXTURES / "own.jsonl", skipped=skipped)
    assert recs == [
        QARecord("I love cat!", "What animal is mentioned?", "cat", "own"),
        QARecord("Café au lait with crème", "What drink is it?", "café au lait", "own"),
        QARecord("Two answers here.", "Which answers?", "first", "own"),  # list -> first answer
    ]
    assert skipped == {"empty output": 1}
    assert "own.jsonl: skipped 1 record(s)" in caplog.text
    assert read_qa_file(FIXTURES / "own.jsonl") == recs  # dispatcher falls back to the generic reader


def test_generic_csv_with_column_mapping():
    skipped = Counter()
    recs = read_table(
        FIXTURES / "own_mapped.csv", input="context", instruction="question", output="answer",
        source="mine", skipped=skipped,
    )
    paris = "Paris is the capital of France, on the Seine."
    assert recs == [
        QARecord(paris, "What is the capital of France?", "Paris", "mine"),
        QARecord("Line one line two: naïve café", "What adjective is used?", "naïve", "mine"),
    ]
    assert skipped == {"empty input": 1}


def test_generic_missing_column_names_column_and_file():
    path = FIXTURES / "own_mapped.csv"
    with pytest.raises(ValueError, match=r"own_mapped\.csv.*'input'.*\['id', 'context', 'question', 'answer'\]"):
        read_table(path)  # default columns do not exist here
    with pytest.raises(ValueError, match=r"own_mapped\.csv.*'passage'"):
        read_table(path, input="passage", instruction="question", output="answer")
    with pytest.raises(ValueError, match=r"own\.jsonl \(row 1\).*'context'"):
        read_table(FIXTURES / "own.jsonl", input="context")
    with pytest.raises(ValueError, match=r"own_mapped\.csv.*'input'"):
        read_qa_file(path)  # the dispatcher's fallback uses the default input/instruction/output names


def test_generic_tsv_and_bad_suffix(tmp_path):
    tsv = tmp_path / "pairs.tsv"
    tsv.write_text("q\tp\ta\nWho?\tAda wrote it.\tAda\n", encoding="utf-8")
    expected = [QARecord("Ada wrote it.", "Who?", "Ada", "pairs")]
    assert read_table(tsv, input="p", instruction="q", output="a") == expected
    with pytest.raises(ValueError, match=r"notes\.txt.*\.jsonl, \.csv or \.tsv"):
        read_table(tmp_path / "notes.txt")


def test_read_records_from_a_datasets_dataset():
    datasets = pytest.importorskip("datasets")
    rows = [
        {"instruction": "What animal is mentioned?", "input": "I love  dog!", "output": "dog"},
        {"instruction": "What emotion is expressed?", "input": "I dislike cat!", "output": "dislike"},
    ]
    ds = datasets.Dataset.from_list(rows)
    expected = [
        QARecord("I love dog!", "What animal is mentioned?", "dog", "hub"),
        QARecord("I dislike cat!", "What emotion is expressed?", "dislike", "hub"),
    ]
    assert read_records(ds, source="hub") == expected
    assert read_records(rows, source="hub") == expected
    renamed = ds.rename_column("input", "text")
    assert read_records(renamed, input="text", source="hub") == expected
    with pytest.raises(ValueError, match=r"my hub set: no column 'input'.*\['instruction', 'text', 'output'\]"):
        read_records(renamed, origin="my hub set")


def test_squad_question_without_answer_is_counted_not_fatal(tmp_path, caplog):
    data = {"data": [{"title": "t", "paragraphs": [{"context": "A  text.", "qas": [
        {"id": "1", "question": "What?", "answers": [{"text": "text", "answer_start": 2}]},
        {"id": "2", "question": "Why?", "answers": [], "is_impossible": True},
    ]}]}]}
    path = tmp_path / "squad_v2_small.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    skipped = Counter()
    assert read_qa_file(path, skipped=skipped) == [QARecord("A text.", "What?", "text", "squad")]
    assert skipped == {"no answer": 1} and "skipped 1 record(s)" in caplog.text


def test_dispatcher_recognises_structure_under_other_names(tmp_path):
    squad_like = tmp_path / "my_rc.json"
    squad_like.write_text(json.dumps({"data": [{"paragraphs": [
        {"background": "B  one.", "situation": "S two.", "qas": [{"question": "Q?", "answers": [{"text": "A"}]}]},
    ]}]}), encoding="utf-8")
    assert read_qa_file(squad_like) == [QARecord("B one.\n\nS two.", "Q?", "A", "my_rc")]
    boolq_like = tmp_path / "yesno.jsonl"  # HF BoolQ layout: answer is a bool
    boolq_like.write_text(json.dumps({"question": "is it", "passage": "It is.", "answer": True}) + "\n")
    assert read_qa_file(boolq_like) == [QARecord("It is.", "is it?", "yes", "yesno")]
    listed = tmp_path / "alpaca_like.json"
    listed.write_text(json.dumps([{"instruction": "Q?", "input": "T", "output": "A"}]))
    assert read_qa_file(listed) == [QARecord("T", "Q?", "A", "alpaca_like")]


@pytest.mark.parametrize("name, content", [("notes.txt", "hello"), ("odd.json", '{"rows": [1, 2]}')])
def test_dispatcher_rejects_unknown_formats(tmp_path, name, content):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(ValueError, match=rf"{name}: unrecognised QA file format; supported: SQuAD.*CosmosQA CSV"):
        read_qa_file(path)
    with pytest.raises(FileNotFoundError):
        read_qa_file(tmp_path / "absent.jsonl")


def test_bad_jsonl_lines_name_the_file_and_line(tmp_path):
    path = tmp_path / "broken.jsonl"
    path.write_text('{"input": "a", "instruction": "b?", "output": "c"}\n{not json\n[1, 2]\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"broken\.jsonl, line 2: not valid JSON"):
        read_table(path)
    path.write_text('{"input": "a", "instruction": "b?", "output": "c"}\n[1, 2]\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"broken\.jsonl \(row 2\): expected an object"):
        read_qa_file(path)
