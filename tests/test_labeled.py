"""Answer-supervised records from labeled text: wordings, generation, and what must stay out of training."""

import json
import zipfile
from collections import Counter

import pytest
from conftest import SHARED_DATA, shared_file

from inbedder_st.train import labeled
from inbedder_st.train.answer_cleaning import prepare
from inbedder_st.train.exclusions import EXCLUDED_FILE, excluded_keys, text_key
from inbedder_st.train.labeled import STYLES, check_wordings, generate, load_wordings, normalise_question
from inbedder_st.train.run import mix_labeled

SPEC = load_wordings()


def _questions(split: str) -> set[str]:
    return {normalise_question(labeled._question(w)) for entry in SPEC["aspects"].values()
            for wordings in entry.get(split, {}).values() for w in wordings}  # fmt: skip


def test_every_trained_aspect_has_every_style_and_no_heldout_wording_is_trained():
    from mteb_tasks.heldout_tasks import all_heldout_instructions

    trained = [a for a in SPEC["aspects"] if a not in SPEC["validation_aspects"]]
    assert len(trained) >= 6 and SPEC["validation_aspects"]
    for aspect in trained:
        assert set(labeled.wordings_for(SPEC, aspect, "train")) == set(STYLES), aspect
    heldout = {normalise_question(w) for w in all_heldout_instructions()}
    assert len(heldout) >= 15
    every = _questions("train") | _questions("validation")
    assert not heldout & every
    assert not _questions("train") & _questions("validation")  # internal validation wordings are never trained
    assert not set(SPEC["aspects"]) & labeled.HELD_OUT_ASPECTS


def test_malformed_wordings_are_refused_naming_the_item():
    bad = {"aspects": {"mood": {"train": {"yes_no": ["Is the writer happy?"]}}}}
    with pytest.raises(ValueError, match=r"'mood'.*'yes_no'.*Is the writer happy\?.*option"):
        check_wordings(bad)
    with pytest.raises(ValueError, match="'irony' is held out"):
        check_wordings({"aspects": {"irony": {"train": {"open": ["Ironic?"]}}}})
    with pytest.raises(ValueError, match="either/or.*answers"):
        check_wordings({"aspects": {"mood": {"train": {"either_or": [{"q": "Good or bad?", "yes": ["joy"]}]}}}})


def test_a_heldout_wording_in_the_wordings_file_is_refused(tmp_path):
    spec = json.loads(labeled.WORDINGS_FILE.read_text())
    spec["aspects"]["sentiment"]["train"]["yes_no"].append({"q": "Did the writer  enjoy it!", "yes": ["positive"]})
    path = tmp_path / "wordings.json"
    path.write_text(json.dumps(spec))
    with pytest.raises(ValueError, match="Did the writer  enjoy it!.*held-out wording"):
        load_wordings(path)


ROWS = [(f"text number {i}", {"emotion": label}) for i, label in enumerate(["anger", "joy", "sadness", "fear"] * 50)]


def test_generation_covers_the_styles_keeps_yes_and_no_and_is_seeded():
    records = generate(ROWS, SPEC, "emotion", "train", "toy", seed=1)
    assert generate(ROWS, SPEC, "emotion", "train", "toy", seed=1) == records
    assert generate(ROWS, SPEC, "emotion", "train", "toy", seed=2) != records
    assert set(Counter(r.style for r in records)) == set(STYLES)
    prepared, _ = prepare(records)
    answers = Counter(r.output for r in prepared if r.style == "yes_no")
    assert answers["yes"] > 20 and answers["no"] > 20 and set(answers) == {"yes", "no"}
    for record in prepared:
        if record.style == "open":
            assert record.output == {"anger": "anger", "joy": "joy", "sadness": "sadness", "fear": "fear"}[
                dict(ROWS)[record.input]["emotion"]]
        if record.instruction.startswith("Does the author feel "):  # either/or template: the label's word is an option
            assert record.output in record.instruction
    two = generate(ROWS[:10], SPEC, "emotion", "train", "toy", seed=1, per_text=2)
    assert len(two) > 10 and all(n <= 2 for n in Counter(r.input for r in two).values())
    assert not {r.instruction for r in records} & {r.instruction for r in generate(ROWS, SPEC, "emotion", "validation", "toy", 1)}


def test_listed_either_or_questions_put_the_answer_anywhere_and_name_it_when_it_is_not_listed():
    spec = {"aspects": {"emotion": {"train": {"either_or": ["Is the writer {options}?", "Is it {other_options} or something else?"]}}}}
    check_wordings(spec)
    records = generate(ROWS, spec, "emotion", "train", "toy", seed=3, per_text=2)
    listed = [r for r in records if r.instruction.startswith("Is the writer ")]
    other = [r for r in records if r.instruction.startswith("Is it ")]
    assert len(listed) > 150 and len(other) > 150
    positions = Counter()
    for record in listed:
        options = record.instruction.removeprefix("Is the writer ").removesuffix("?").replace(" or ", ", ").split(", ")
        assert record.output == dict(ROWS)[record.input]["emotion"] and record.output in options
        assert len(options) in (3, 4) and len(set(options)) == len(options)
        positions[options.index(record.output) if options.index(record.output) < 2 else "later"] += 1
    assert min(positions[k] for k in (0, 1, "later")) > len(listed) / 6, positions  # not always first (or last)
    for record in other:
        options = record.instruction.removeprefix("Is it ").removesuffix(" or something else?").replace(" or ", ", ").split(", ")
        assert len(options) in (2, 3) and record.output not in options
    two_labels = [(f"text {i}", {"emotion": label}) for i, label in enumerate(["anger", "joy"] * 20)]
    assert not generate(two_labels, spec, "emotion", "train", "toy", seed=3, per_text=2)  # too few answers to list
    with pytest.raises(ValueError, match="open and implicit strings take no placeholders"):
        check_wordings({"aspects": {"mood": {"train": {"open": ["Is it {options}?"]}}}})


def test_mixed_listed_questions_list_own_and_foreign_answers_and_need_a_foreign_pool():
    spec = {"aspects": {"emotion": {"train": {"either_or": ["Which is it: {mixed_options}?"]}}}}
    check_wordings(spec)
    foreign = ("refund", "smart home", "alarm", "capital of")
    records = generate(ROWS, spec, "emotion", "train", "toy", seed=3, foreign=foreign)
    assert len(records) == len(ROWS)
    sizes, first = Counter(), Counter()
    for record in records:
        options = record.instruction.removeprefix("Which is it: ").removesuffix("?").replace(" or ", ", ").split(", ")
        own = dict(ROWS)[record.input]["emotion"]
        assert record.output == own and own in options and len(set(options)) == len(options)
        others = [option for option in options if option != own]
        assert any(o in foreign for o in others) and any(o in ("anger", "joy", "sadness", "fear") for o in others)
        sizes[len(options)] += 1
        first[options[0] == own] += 1
    assert set(sizes) == {3, 4} and first[False] > first[True]  # the answer is not always first
    assert not generate(ROWS, spec, "emotion", "train", "toy", seed=3)  # no foreign answers: cannot be asked


def test_foreign_answers_are_other_trained_aspects_answers_never_yes_or_no():
    rows = {"hwu64": [("wake me up", {"scenario": "alarm", "intent": "alarm_set"})],
            "emotion": [("so sad", {"emotion": "sadness"}), ("great", {"emotion": "joy"})]}
    foreign = labeled.foreign_answers(SPEC, rows)
    assert "sadness" in foreign["scenario"] and "alarm" not in foreign["scenario"]
    assert "alarm" in foreign["emotion"] and not {"sadness", "joy", "yes", "no"} & set(foreign["emotion"])


def test_extra_wordings_add_to_the_file_and_are_checked_like_it(tmp_path):
    listed = labeled.WORDINGS_FILE.with_name("wordings_listed.json")
    spec = load_wordings(extra=(listed,))
    assert load_wordings() is SPEC and "{options}" not in json.dumps(SPEC)  # the shipped file is unchanged
    assert "Does the writer feel {options}?" in spec["aspects"]["emotion"]["train"]["either_or"]
    assert spec["aspects"]["emotion"]["train"]["open"] == SPEC["aspects"]["emotion"]["train"]["open"]
    records = generate(ROWS, spec, "emotion", "train", "toy", seed=1, per_text=3)
    assert any("{" not in r.instruction and r.instruction.count(",") >= 1 for r in records if r.style == "either_or")

    def extra(aspects):
        path = tmp_path / "extra.json"
        path.write_text(json.dumps({"aspects": aspects}))
        return (path,)

    with pytest.raises(ValueError, match=r"'colour' is neither in the wordings .* nor a labeled source's aspect"):
        load_wordings(extra=extra({"colour": {"train": {"open": ["What colour?"]}}}))
    with pytest.raises(ValueError, match=r"'emotion' validation open wording 'How does the author feel\?' is already"):
        load_wordings(extra=extra({"emotion": {"validation": {"open": ["How does the author feel?"]}}}))
    with pytest.raises(ValueError, match=r"unknown split 'test'"):
        load_wordings(extra=extra({"emotion": {"test": {"open": ["Mood?"]}}}))
    with pytest.raises(ValueError, match="Is the opinion good or bad.*held-out wording"):
        load_wordings(extra=extra({"sentiment": {"train": {"either_or": [{"q": "Is the opinion good or bad?", "answers": {"positive": "good"}}]}}}))


def test_the_labeled_share_of_the_mix_is_capped():
    qa, generated = list(range(10)), list(range(100, 130))
    assert len(mix_labeled(qa, generated, 0.5, seed=0)) == 10
    assert mix_labeled(qa, generated, 0.5, seed=0) == mix_labeled(qa, generated, 0.5, seed=0)
    assert len(mix_labeled(qa, generated[:5], 0.5, seed=0)) == 5
    with pytest.raises(ValueError, match="no QA records"):
        mix_labeled([], generated, 0.5, seed=0)


@pytest.fixture(scope="module")
def built():
    shared_file("labeled/tweeteval/emotion/train_text.txt")
    return labeled.build(SHARED_DATA, seed=3, per_source=400, validation_per_aspect=40)


def _heldout_dataset_texts() -> set[str]:
    keys = set()
    for subset in ("sentiment", "irony"):
        for file in (SHARED_DATA / "labeled/tweeteval" / subset).glob("*_text.txt"):
            keys |= {text_key(t) for t in file.read_text(encoding="utf-8").splitlines() if t.strip()}
    for file in (SHARED_DATA / "dual_aspect/hu_liu_reviews").glob("*.zip"):
        with zipfile.ZipFile(file) as archive:
            for member in archive.namelist():
                for line in archive.read(member).decode("latin-1").splitlines():
                    if "##" in line and line.partition("##")[2].strip():
                        keys.add(text_key(line.partition("##")[2].strip()))
    return keys


def test_training_records_leave_out_heldout_data_wordings_and_validation(built):
    train, validation = built.train, built.validation
    assert {r.source for r in train} == set(labeled.SOURCES) - {"tweeteval_hate", "squad_topics"}  # topic: opt-in
    assert {r.aspect for r in train} == {"emotion", "offensive", "scenario", "intent", "relation", "sentiment"}
    assert {r.style for r in train} == set(STYLES) and {r.aspect for r in validation} >= {"hate", "emotion", "sentiment"}
    train_keys = {text_key(r.input) for r in train}
    assert not train_keys & excluded_keys()  # no text of a dev or held-out task's sampled data
    assert not train_keys & _heldout_dataset_texts()  # nor of the held-out datasets
    assert not train_keys & {text_key(r.input) for r in validation}
    assert not {r.instruction for r in train} & {r.instruction for r in validation if r.aspect != "hate"}
    assert built.stats["dropped_evaluation_heldout_or_validation_texts"]["sls"] > 100  # the dev triplets' texts went out
    assert Counter(r.output for r in train)["no"] > 200


def test_fewrel_texts_are_the_dev_tasks_format():
    shared_file("fewrel/val_wiki.json")
    from mteb_tasks import dev_data

    mine = {text for split in ("train", "validation") for text, _ in labeled._fewrel(SHARED_DATA, split)}
    assert mine == {row["text"] for row in dev_data.fewrel_rows(SHARED_DATA)}


def test_the_stored_evaluation_text_hashes_are_current():
    shared_file("dual_aspect/sls/sls_yelp.txt")
    from inbedder_st.train.exclusions import evaluation_texts

    current = {text_key(t) for t in evaluation_texts(SHARED_DATA)}
    assert current == set(excluded_keys(EXCLUDED_FILE)), "regenerate with: python -m inbedder_st.train.exclusions"


TOPIC = labeled.WORDINGS_FILE.with_name("wordings_topic.json")


def test_article_titles_become_topic_labels():
    assert labeled._article_topic("Financial_crisis_of_2007%E2%80%9308") == "Financial_crisis_of_2007–08"
    assert labeled._article_topic("Spectre_(2015_film)") == "Spectre"
    assert labeled.answer_word(load_wordings(extra=(TOPIC,)), "topic", "University_of_Notre_Dame") == "university of notre dame"


def test_the_topic_aspect_is_trained_only_with_its_wordings_file():
    shared_file("qa/xquad_en.json")
    assert "topic" not in SPEC["aspects"]  # the shipped wordings do not ask it
    without = labeled.build(SHARED_DATA, seed=1, per_source=50, sources=["squad_topics", "emotion"])
    assert {r.source for r in without.train} == {"emotion"} and "squad_topics" not in without.stats["texts_per_source"]
    spec = load_wordings(extra=(TOPIC,))
    built = labeled.build(SHARED_DATA, seed=1, per_source=300, sources=["squad_topics"], spec=spec)
    topics = [r for r in built.train if r.aspect == "topic"]
    assert len(topics) == 300 and {r.style for r in topics} == set(STYLES)
    assert {r.aspect for r in built.validation} == {"topic"}
    assert not {text_key(r.input) for r in topics} & {text_key(r.input) for r in built.validation}
    opened = [r for r in topics if r.style == "open"]
    assert len({r.output for r in opened}) > 20  # many articles, answered with their title's words
    assert all(r.input.count(". ") <= 3 for r in topics)  # short windows, not whole paragraphs


def test_every_extra_wordings_file_loads_with_the_others_and_asks_no_heldout_wording():
    extras = tuple(sorted(labeled.WORDINGS_FILE.parent.glob("wordings_*.json")))
    assert {path.name for path in extras} >= {"wordings_listed.json", "wordings_mixed.json", "wordings_topic.json"}
    spec = load_wordings(extra=extras)
    asked = {normalise_question(labeled._question(w)) for entry in spec["aspects"].values()
             for split in labeled.SPLITS for wordings in entry.get(split, {}).values() for w in wordings}  # fmt: skip
    assert not asked & labeled._heldout_questions(labeled.HELDOUT_WORDINGS_FILE)
