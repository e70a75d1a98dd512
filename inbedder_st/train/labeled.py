"""Answer-supervised QA records from labeled text: a label is a short answer to a question about the text.

Each labeled source (read in place from the shared data folder, never copied) gives rows ``(text, {aspect:
label})``. For every text, ``generate`` picks question wordings of the aspect from ``wordings.json`` (open,
yes/no, either/or and implicit questions) and answers them from the label. Everything is seeded. A source
whose aspect no loaded wordings file asks about is not read (``squad_topics``, the "topic" of SQuAD passages,
is trained only with ``--extra-wordings wordings_topic.json``).

Kept out of training, always:
- the held-out datasets (Hu & Liu reviews, TweetEval sentiment) and aspects (irony, the dual-aspect sets'
  topical aspects): no reader here reads them, and ``check_wordings`` refuses an aspect of that name;
- every wording of ``mteb_tasks/heldout_wordings.json`` (checked when the wordings load, when that file is
  present, and by the tests);
- every text of the dev and held-out tasks' sampled data (``exclusions.excluded_keys``) and of the held-out
  datasets (``heldout_dataset_keys``);
- the internal validation data: ``validation`` wordings, ``validation_aspects`` and validation texts (a
  dataset's validation split, or 1 text in 20 by text hash where a dataset has none).
"""

from __future__ import annotations

import csv
import json
import random
import re
import string
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from urllib.parse import unquote

from inbedder_st.train.exclusions import excluded_keys, text_key
from inbedder_st.train.records import QARecord

WORDINGS_FILE = Path(__file__).with_name("wordings.json")
HELDOUT_WORDINGS_FILE = Path(__file__).resolve().parents[2] / "mteb_tasks" / "heldout_wordings.json"
STYLES = ("open", "yes_no", "either_or", "implicit")
HELD_OUT_ASPECTS = frozenset({"irony", "source", "entity", "product", "polarity"})  # evaluation-only aspects
HELD_OUT_DATASETS = ("dual_aspect/hu_liu_reviews", "labeled/tweeteval/sentiment", "labeled/tweeteval/irony")
VALIDATION_EVERY = 20  # datasets without a validation split: 1 text in 20 (by text hash) validates
SPLITS = ("train", "validation")
# Either/or questions that list several answers. "{options}": 3 or 4 answers, the text's own among them, in a
# random order (a model trained on two-option questions only answers the first of a longer list: 38 of 40 Hu &
# Liu reviews got "camera" for "a camera, a phone, a music player or something else?"). "{other_options}": 2 or
# 3 answers that are all wrong, for wordings such as "... or none of these?": the answer is the text's own word.
# "{mixed_options}": 3 or 4 answers, the text's own among them, the others drawn from the aspect's other answers
# *and* from other aspects' answers (at least one of each): the answer must be read from the list, not recalled
# from the aspect's label set (trained on "{other_options}" alone, a model answers unseen listed questions with
# frequent training labels such as "smart home").
LISTS = {"options": (3, 4), "other_options": (2, 3), "mixed_options": (3, 4)}

Row = tuple[str, dict[str, str]]  # (text, {aspect: label})


# ----- wordings ------------------------------------------------------------------------------------
def normalise_question(text: str) -> str:
    """Lowercase, punctuation removed, whitespace collapsed: how wordings are compared."""
    return " ".join(text.lower().translate(str.maketrans("", "", string.punctuation)).split())


def _heldout_questions(path: Path) -> set[str]:
    """Every question (a string ending in '?') anywhere in the held-out wordings file."""
    found: set[str] = set()

    def walk(value):
        if isinstance(value, str) and value.strip().endswith("?"):
            found.add(normalise_question(value))
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(json.loads(path.read_text(encoding="utf-8")))
    return found


def _question(wording) -> str:
    return wording if isinstance(wording, str) else wording.get("q", "")


def check_wordings(spec: dict, origin: str = "wordings") -> None:
    """Raise ValueError naming the first malformed aspect, style or wording."""
    aspects = spec.get("aspects")
    if not isinstance(aspects, dict) or not aspects:
        raise ValueError(f"{origin}: needs an 'aspects' object")
    for name in spec.get("validation_aspects", []):
        if name not in aspects:
            raise ValueError(f"{origin}: validation aspect {name!r} has no wordings")
    for aspect, entry in aspects.items():
        if aspect in HELD_OUT_ASPECTS:
            raise ValueError(f"{origin}: aspect {aspect!r} is held out for evaluation and may not be trained")
        for split in SPLITS:
            for style, wordings in entry.get(split, {}).items():
                where = f"{origin}: aspect {aspect!r}, {split} style {style!r}"
                if style not in STYLES:
                    raise ValueError(f"{where}: unknown style (valid: {STYLES})")
                for wording in wordings:
                    _check_wording(wording, style, f"{where}, wording {_question(wording)!r}")


def _check_wording(wording, style: str, where: str) -> None:
    if isinstance(wording, str):
        option = "{option}" in wording
        listed = ("{a}" in wording and "{b}" in wording) or any(f"{{{name}}}" in wording for name in LISTS)
        if style == "yes_no" and not option:
            raise ValueError(f"{where}: a yes/no string needs {{option}}; else write {{\"q\": ..., \"yes\": [labels]}}")
        if style == "either_or" and not listed:
            raise ValueError(f"{where}: an either/or string needs {{a}} and {{b}}, {{options}} or {{other_options}}; "
                             f"else write {{\"q\": ..., \"answers\": {{}}}}")  # fmt: skip
        if style in ("open", "implicit") and (option or "{a}" in wording or any(f"{{{n}}}" in wording for n in LISTS)):
            raise ValueError(f"{where}: open and implicit strings take no placeholders")
        return
    if not isinstance(wording, dict) or not isinstance(wording.get("q"), str) or not wording["q"].strip():
        raise ValueError(f"{where}: expected a string or an object with a 'q' question")
    kinds = [key for key in ("yes", "answers") if key in wording]
    if len(kinds) != 1:
        raise ValueError(f"{where}: an object needs exactly one of 'yes' (yes/no) or 'answers' (label -> answer)")
    if kinds == ["answers"] and (not isinstance(wording["answers"], dict) or not wording["answers"]):
        raise ValueError(f"{where}: 'answers' must map labels to answers")
    if kinds == ["yes"] and not (isinstance(wording["yes"], list) and wording["yes"]):
        raise ValueError(f"{where}: 'yes' must list the labels answered yes")
    if style == "either_or" and kinds != ["answers"]:
        raise ValueError(f"{where}: an either/or question is answered with an option word: use 'answers'")


def extend_wordings(spec: dict, extra: dict, origin: str) -> dict:
    """``spec`` with the wordings of ``extra`` (``{"aspects": {aspect: {split: {style: [wordings]}}}}``) added.

    An aspect that ``spec`` lacks may be added (with its own ``labels`` map) only if a labeled source supplies
    it (e.g. "topic" of ``squad_topics``); any other unknown aspect, an unknown split, or a wording the aspect
    already has (in either split) is an error."""
    merged = json.loads(json.dumps(spec))  # a deep copy: load_wordings' result is cached and shared
    for aspect, entry in (extra.get("aspects") or {}).items():
        new = aspect not in merged["aspects"]
        if new:
            supplied = sorted({name for source in SOURCES.values() for name in source.aspects} - set(merged["aspects"]))
            if aspect not in supplied:
                raise ValueError(f"{origin}: aspect {aspect!r} is neither in the wordings it extends "
                                 f"({sorted(merged['aspects'])}) nor a labeled source's aspect without wordings ({supplied})")
            merged["aspects"][aspect] = {"labels": dict(entry.get("labels", {}))}  # a new aspect may map its labels
        known = {normalise_question(_question(w)) for split in SPLITS
                 for ws in merged["aspects"][aspect].get(split, {}).values() for w in ws}  # fmt: skip
        for split, styles in entry.items():
            if split == "labels" and new:
                continue
            if split not in SPLITS:
                raise ValueError(f"{origin}: aspect {aspect!r}: unknown split {split!r} (valid: {SPLITS})")
            for style, wordings in styles.items():
                for wording in wordings:
                    if normalise_question(_question(wording)) in known:
                        raise ValueError(f"{origin}: aspect {aspect!r} {split} {style} wording {_question(wording)!r} "
                                         "is already a wording of that aspect")  # fmt: skip
                    known.add(normalise_question(_question(wording)))
                merged["aspects"][aspect].setdefault(split, {}).setdefault(style, []).extend(wordings)
    return merged


@cache
def load_wordings(path: Path = WORDINGS_FILE, heldout_path: Path = HELDOUT_WORDINGS_FILE, extra: tuple[Path, ...] = ()) -> dict:
    """The wordings file (``extra`` files add wordings to it), checked; a held-out wording is refused."""
    spec = json.loads(Path(path).read_text(encoding="utf-8"))
    for file in extra:
        spec = extend_wordings(spec, json.loads(Path(file).read_text(encoding="utf-8")), str(file))
    check_wordings(spec, ", ".join(map(str, (path, *extra))))
    if Path(heldout_path).is_file():  # a repository checkout: refuse any held-out wording
        heldout = _heldout_questions(Path(heldout_path))
        for aspect, entry in spec["aspects"].items():
            for split in SPLITS:
                for style, wordings in entry.get(split, {}).items():
                    for wording in wordings:
                        if normalise_question(_question(wording)) in heldout:
                            raise ValueError(f"{', '.join(map(str, (path, *extra)))}: aspect {aspect!r} {split} {style} wording "
                                             f"{_question(wording)!r} is a held-out wording ({heldout_path})")  # fmt: skip
    return spec


def wordings_for(spec: dict, aspect: str, split: str) -> dict[str, list]:
    """The aspect's wordings by style for ``split``; a validation aspect has no training wordings."""
    entry = spec["aspects"].get(aspect)
    if entry is None:  # a source's aspect that no loaded wordings file asks about: not generated
        return {}
    if split == "train" and aspect in spec.get("validation_aspects", []):
        return {}
    if split == "validation" and aspect in spec.get("validation_aspects", []):
        merged: dict[str, list] = defaultdict(list)
        for part in SPLITS:
            for style, wordings in entry.get(part, {}).items():
                merged[style].extend(wordings)
        return dict(merged)
    return entry.get(split, {})


def answer_word(spec: dict, aspect: str, label: str) -> str:
    """The label's natural answer: the aspect's ``labels`` map, else the label read as words."""
    mapped = spec["aspects"][aspect].get("labels", {})
    return mapped.get(label) or re.sub(r"[_\-]+", " ", label).strip().lower()


# ----- generation ----------------------------------------------------------------------------------
def _choices(wording, label: str, words: dict[str, str], others: list[str], rng: random.Random, foreign: tuple[str, ...] = ()):
    """What this wording can ask of a text with ``label``: [(answer kind, builder of (question, answer))].

    ``words``: every label's answer; ``others``: the labels whose answer differs from this label's;
    ``foreign``: answers of other aspects (for ``{mixed_options}``)."""
    word = words[label]
    if isinstance(wording, str):
        if "{option}" in wording:
            options = [("yes", lambda: (wording.format(option=word), "yes"))]
            if others:
                options.append(("no", lambda: (wording.format(option=words[rng.choice(others)]), "no")))
            return options
        for name, sizes in LISTS.items():
            if f"{{{name}}}" in wording:  # too few other answers to list: the wording cannot ask about this text
                wrong = sorted({words[other] for other in others})
                if name == "mixed_options":
                    usable = wrong and [item for item in foreign if item != word]
                    return [("word", _mixed_listing(wording, sizes, word, wrong, usable, rng))] if usable else []
                enough = len(wrong) + (name == "options") >= sizes[0]
                return [("word", _listing(wording, name, sizes, word, wrong, rng))] if enough else []
        if "{a}" in wording:
            if not others:
                return []

            def pair():
                other = words[rng.choice(others)]
                a, b = (word, other) if rng.random() < 0.5 else (other, word)
                return wording.format(a=a, b=b), word

            return [("word", pair)]
        return [("word", lambda: (wording, word))]
    if "yes" in wording:
        if label in wording["yes"]:
            return [("yes", lambda: (wording["q"], "yes"))]
        if label in wording.get("no", [other for other in words if other not in wording["yes"]]):
            return [("no", lambda: (wording["q"], "no"))]
        return []
    if label in wording["answers"]:
        return [("word", lambda: (wording["q"], wording["answers"][label]))]
    return []


def join_options(options: list[str]) -> str:
    """["a", "b", "c"] -> "a, b or c"."""
    return f"{', '.join(options[:-1])} or {options[-1]}"


def _listing(wording: str, name: str, sizes: tuple[int, int], word: str, wrong: list[str], rng: random.Random):
    """The builder of a listed either/or question: ``word`` among the options (``{options}``) or not
    (``{other_options}``), the others drawn from ``wrong``; the answer is ``word`` either way."""

    def build():
        own = [word] if name == "options" else []
        count = min(rng.choice(sizes) - len(own), len(wrong))
        options = rng.sample(wrong, count) + own
        rng.shuffle(options)
        return wording.format(**{name: join_options(options)}), word

    return build


def _mixed_listing(wording: str, sizes: tuple[int, int], word: str, wrong: list[str], foreign: list[str], rng: random.Random):
    """The builder of a ``{mixed_options}`` question: ``word``, at least one other answer of the aspect
    (``wrong``) and at least one answer of another aspect (``foreign``), in a random order."""

    def build():
        count = rng.choice(sizes) - 1
        n_foreign = min(rng.randint(1, count - 1), len(foreign))
        n_wrong = min(count - n_foreign, len(wrong))
        options = rng.sample(wrong, n_wrong) + rng.sample(foreign, n_foreign) + [word]
        rng.shuffle(options)
        return wording.format(mixed_options=join_options(options)), word

    return build


def generate(
    rows: list[Row], spec: dict, aspect: str, split: str, source: str, seed: int, per_text: int = 1,
    foreign: tuple[str, ...] = (),
) -> list[QARecord]:
    """``per_text`` records per text (distinct questions): a style drawn uniformly among those that can ask
    about the text's label, then a wording; yes and no are drawn evenly where both are possible.
    ``foreign``: answers of other aspects, listed as wrong options by ``{mixed_options}`` wordings."""
    styles = wordings_for(spec, aspect, split)
    labels = sorted({labels_of[aspect] for _, labels_of in rows if aspect in labels_of})
    words = {label: answer_word(spec, aspect, label) for label in labels}
    others = {label: [other for other in labels if words[other] != words[label]] for label in labels}
    rng = random.Random(f"{seed}:{source}:{aspect}:{split}")
    records = []
    for text, labels_of in rows:
        label = labels_of.get(aspect)
        if label is None:
            continue
        by_style = {}
        for style, wordings in styles.items():
            options = [option for wording in wordings for option in _choices(wording, label, words, others[label], rng, foreign)]
            if options:
                by_style[style] = options
        asked: set[str] = set()
        for _ in range(per_text):
            if not by_style:
                break
            style = rng.choice(sorted(by_style))
            options = by_style[style]
            kinds = sorted({kind for kind, _ in options})
            kind = rng.choice(kinds)  # yes vs no evenly, whatever the label balance of the wordings
            question, answer = rng.choice([build for k, build in options if k == kind])()
            if question in asked:
                continue
            asked.add(question)
            records.append(QARecord(text, question, answer, source=source, aspect=aspect, style=style))
    return records


# ----- sources -------------------------------------------------------------------------------------
def _held_for_validation(text: str) -> bool:
    return int(text_key(text), 16) % VALIDATION_EVERY == 0


def _by_hash(rows: list[Row], split: str) -> list[Row]:
    return [row for row in rows if _held_for_validation(row[0]) == (split == "validation")]


def _tweeteval(subset: str, aspect: str) -> Callable[[Path, str], list[Row]]:
    def read(root: Path, split: str) -> list[Row]:
        folder = root / "labeled" / "tweeteval" / subset
        names = dict(line.split("\t")[:2] for line in (folder / "mapping.txt").read_text(encoding="utf-8").splitlines() if line.strip())
        prefix = "val" if split == "validation" else "train"
        texts = (folder / f"{prefix}_text.txt").read_text(encoding="utf-8").splitlines()
        labels = (folder / f"{prefix}_labels.txt").read_text(encoding="utf-8").splitlines()
        if len(texts) != len(labels):
            raise ValueError(f"{folder}: {len(texts)} texts but {len(labels)} labels in the {prefix} split")
        return [(text.strip(), {aspect: names[label.strip()]}) for text, label in zip(texts, labels) if text.strip()]

    return read


def _hwu64(root: Path, split: str) -> list[Row]:
    with (root / "labeled" / "hwu64" / "hwu64_folds.csv").open(encoding="utf-8", newline="") as handle:
        rows = [(row["answer_from_anno"].strip(), {"scenario": row["scenario"], "intent": f"{row['scenario']}_{row['intent']}"})
                for row in csv.DictReader(handle, delimiter=";") if row["answer_from_anno"].strip()]  # fmt: skip
    return _by_hash(rows, split)


def _banking77(root: Path, split: str) -> list[Row]:
    with (root / "banking77" / "train.csv").open(encoding="utf-8", newline="") as handle:
        rows = [(" ".join(row["text"].split()), {"intent": row["category"]}) for row in csv.DictReader(handle)]
    return _by_hash(rows, split)


def _emotion(root: Path, split: str) -> list[Row]:
    lines = (root / "emotion" / "train.jsonl").read_text(encoding="utf-8").splitlines()
    return _by_hash([(item["text"], {"emotion": item["label_text"]}) for item in map(json.loads, lines)], split)


def _detokenize(tokens: list[str]) -> str:  # as mteb_tasks.dev_data._detokenize (a test checks they agree)
    text = " ".join(token for token in tokens if token.strip())
    return re.sub(r" ([.,;:!?%)'])", r"\1", text).replace("( ", "(")


def _fewrel(root: Path, split: str) -> list[Row]:
    """FewRel sentences with the entity pair appended, as the dev suite's FewRel task shows them."""
    names = json.loads((root / "fewrel" / "pid2name.json").read_text(encoding="utf-8"))
    rows = []
    for pid, instances in json.loads((root / "fewrel" / "val_wiki.json").read_text(encoding="utf-8")).items():
        for item in instances:
            tokens = item["tokens"]
            head, tail = (" ".join(tokens[i] for i in item[key][2][0]) for key in ("h", "t"))
            rows.append((f"{_detokenize(tokens)}\n{head} ; {tail}", {"relation": names[pid][0]}))
    return _by_hash(rows, split)


def _sls(root: Path, split: str) -> list[Row]:
    """Sentiment Labelled Sentences: the sentiment label only (the source is a held-out aspect)."""
    rows = []
    for file in sorted((root / "dual_aspect" / "sls").glob("sls_*.txt")):
        for line in file.read_text(encoding="utf-8").splitlines():
            text, _, label = line.rpartition("\t")
            if text.strip() and label.strip() in ("0", "1"):
                rows.append((text.strip(), {"sentiment": ("negative", "positive")[int(label)]}))
    return _by_hash(rows, split)


def _acos_laptop(root: Path, split: str) -> list[Row]:
    """Laptop-ACOS train split, sentences with one sentiment: the sentiment only (the entity is held out)."""
    sentiments = {"0": "negative", "1": "neutral", "2": "positive"}
    rows = []
    for line in (root / "dual_aspect" / "acos_laptop" / "acos_laptop_train.tsv").read_text(encoding="utf-8").splitlines():
        text, *quads = line.split("\t")
        found = {quad.split()[2] for quad in quads if len(quad.split()) >= 3}
        if text.strip() and len(found) == 1 and (label := found.pop()) in sentiments:
            rows.append((text.strip(), {"sentiment": sentiments[label]}))
    return _by_hash(rows, split)


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'(])")


def _article_topic(title: str) -> str:
    """A Wikipedia article title as a topic label: URL escapes decoded, a trailing "(...)" qualifier dropped."""
    return re.sub(r"_\(.*\)$", "", unquote(title)).strip("_")


def _squad_topics(root: Path, split: str) -> list[Row]:
    """Two-sentence windows of the SQuAD and XQuAD paragraphs, labeled with their article's title: a
    topical aspect ("What is this passage about?") from data that is neither a held-out dataset nor a
    held-out aspect. A window need not name its topic, as a review sentence need not name the product."""
    rows = []
    for name in ("squad_v1.1_du_test.json", "xquad_en.json"):
        for article in json.loads((root / "qa" / name).read_text(encoding="utf-8"))["data"]:
            topic = _article_topic(article["title"])
            for paragraph in article["paragraphs"]:
                sentences = [s for s in _SENTENCE_END.split(" ".join(paragraph["context"].split())) if s]
                for start in range(0, len(sentences), 2):
                    rows.append((" ".join(sentences[start:start + 2]), {"topic": topic}))
    return _by_hash(rows, split)


@dataclass(frozen=True)
class Source:
    read: Callable[[Path, str], list[Row]]  # (data root, "train" | "validation") -> rows
    aspects: tuple[str, ...]


SOURCES: dict[str, Source] = {
    "tweeteval_emotion": Source(_tweeteval("emotion", "emotion"), ("emotion",)),
    "tweeteval_offensive": Source(_tweeteval("offensive", "offensive"), ("offensive",)),
    "tweeteval_hate": Source(_tweeteval("hate", "hate"), ("hate",)),  # a validation aspect: never trained
    "hwu64": Source(_hwu64, ("scenario", "intent")),
    "banking77": Source(_banking77, ("intent",)),
    "emotion": Source(_emotion, ("emotion",)),
    "fewrel": Source(_fewrel, ("relation",)),
    "sls": Source(_sls, ("sentiment",)),
    "acos_laptop": Source(_acos_laptop, ("sentiment",)),
    # Trained only when a wordings file gives the "topic" aspect wordings (wordings_topic.json): not in the shipped mix.
    "squad_topics": Source(_squad_topics, ("topic",)),
}


def default_data_root() -> Path:
    """$INBEDDER_DATA, else ../shared/data beside the repository (as the dev suite finds it)."""
    import os

    given = os.environ.get("INBEDDER_DATA")
    return Path(given) if given else Path(__file__).resolve().parents[3] / "shared" / "data"


def _rows(root: Path, name: str, split: str) -> list[Row]:
    try:
        return SOURCES[name].read(root, split)
    except FileNotFoundError as error:
        raise FileNotFoundError(f"labeled source {name!r}: {error.filename} is missing (data root {root})") from None


def heldout_dataset_keys(root: Path) -> set[str]:
    """text_key of every text of the held-out datasets (a short review sentence can recur in a trained set)."""
    import io
    import zipfile

    keys = set()
    for subset in ("sentiment", "irony"):
        for file in sorted((root / "labeled" / "tweeteval" / subset).glob("*_text.txt")):
            keys |= {text_key(text) for text in file.read_text(encoding="utf-8").splitlines() if text.strip()}
    for file in sorted((root / "dual_aspect" / "hu_liu_reviews").glob("*.zip")):
        with zipfile.ZipFile(file) as archive:
            for member in archive.namelist():
                for line in io.TextIOWrapper(archive.open(member), encoding="latin-1"):
                    text = line.partition("##")[2].strip()
                    if text:
                        keys.add(text_key(text))
    return keys


def _clean(rows: list[Row], banned: set[str]) -> tuple[list[Row], int]:
    """Rows whose text is neither an evaluation text nor in ``banned``, duplicates dropped."""
    excluded, kept, seen = excluded_keys(), [], set()
    for text, labels in rows:
        key = text_key(text)
        if key in excluded or key in banned or key in seen:
            continue
        seen.add(key)
        kept.append((text, labels))
    return kept, len(rows) - len(kept)


@dataclass
class LabeledData:
    train: list[QARecord]
    validation: list[QARecord]
    stats: dict


def build(
    root: str | Path | None = None,
    *,
    seed: int = 42,
    per_source: int | None = None,
    per_text: int = 1,
    validation_per_aspect: int = 60,
    sources: list[str] | None = None,
    spec: dict | None = None,
) -> LabeledData:
    """Training and internal-validation records from the labeled sources.

    per_source: at most this many texts per source for training (seeded sample, before generation).
    validation_per_aspect: validation records per aspect (validation texts, validation wordings).
    """
    root = Path(root) if root is not None else default_data_root()
    spec = spec or load_wordings()
    names = sources or list(SOURCES)
    unknown = sorted(set(names) - set(SOURCES))
    if unknown:
        raise KeyError(f"Unknown labeled source(s) {unknown}; valid: {sorted(SOURCES)}")
    # a source none of whose aspects the loaded wordings ask about (squad_topics without wordings_topic.json) is not read
    names = [name for name in names if any(wordings_for(spec, aspect, split) for aspect in SOURCES[name].aspects for split in SPLITS)]
    heldout = heldout_dataset_keys(root)
    validation_rows = {name: _clean(_rows(root, name, "validation"), heldout)[0] for name in names}
    banned = heldout | {text_key(text) for rows in validation_rows.values() for text, _ in rows}
    train_rows, dropped, texts = {}, {}, {}
    for name in names:
        if not any(wordings_for(spec, aspect, "train") for aspect in SOURCES[name].aspects):
            continue
        rows, dropped[name] = _clean(_rows(root, name, "train"), banned)
        if per_source is not None and len(rows) > per_source:
            rows = random.Random(f"{seed}:{name}").sample(rows, per_source)
        train_rows[name] = rows
        texts[name] = len(rows)
    foreign = foreign_answers(spec, train_rows)
    train = []
    for name, rows in train_rows.items():
        for aspect in SOURCES[name].aspects:
            if wordings_for(spec, aspect, "train"):
                train.extend(generate(rows, spec, aspect, "train", name, seed, per_text, foreign.get(aspect, ())))
    by_aspect: dict[str, list[QARecord]] = defaultdict(list)
    for name in names:
        for aspect in SOURCES[name].aspects:
            by_aspect[aspect].extend(
                generate(validation_rows[name], spec, aspect, "validation", name, seed, foreign=foreign.get(aspect, ())))
    validation = []
    for aspect in sorted(by_aspect):
        group = by_aspect[aspect]
        if len(group) > validation_per_aspect:
            group = random.Random(f"{seed}:validation:{aspect}").sample(group, validation_per_aspect)
        validation.extend(group)
    stats = {
        "texts_per_source": texts,
        "dropped_evaluation_heldout_or_validation_texts": dropped,
        "train": describe(train),
        "validation": describe(validation),
        "validation_aspects": list(spec.get("validation_aspects", [])),
    }
    return LabeledData(train, validation, stats)


def foreign_answers(spec: dict, rows_by_source: dict[str, list[Row]]) -> dict[str, tuple[str, ...]]:
    """For each trained aspect, the answers of the *other* trained aspects (never its own, never yes/no),
    sorted: the pool that ``{mixed_options}`` questions draw wrong options from."""
    words: dict[str, set[str]] = defaultdict(set)
    for name, rows in rows_by_source.items():
        for aspect in SOURCES[name].aspects:
            if wordings_for(spec, aspect, "train"):
                words[aspect] |= {answer_word(spec, aspect, labels[aspect]) for _, labels in rows if aspect in labels}
    everything = set().union(*words.values()) - {"yes", "no"} if words else set()
    return {aspect: tuple(sorted(everything - own)) for aspect, own in words.items()}


def describe(records: list[QARecord]) -> dict:
    """Counts per source, aspect, style, and of yes/no answers."""
    return {
        "records": len(records),
        "per_source": dict(sorted(Counter(r.source for r in records).items())),
        "per_aspect": dict(sorted(Counter(r.aspect for r in records).items())),
        "per_style": dict(sorted(Counter(r.style for r in records).items())),
        "yes_no_answers": dict(sorted(Counter(r.output for r in records if r.output in ("yes", "no")).items())),
    }
