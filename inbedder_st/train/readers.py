"""Readers turning QA data files into :class:`QARecord` lists (input = passage, instruction = question,
output = short answer).

Every field is whitespace-normalised (runs of whitespace collapsed to one space, stripped; unicode kept).
An input built from several parts (ROPES background + situation, PubMedQA contexts) joins the normalised
parts with a blank line. A record whose input, question or answer is empty (e.g. an unanswerable SQuAD 2.0
question) is skipped, never silently: every reader takes ``skipped``, a ``collections.Counter`` it adds
``{reason: count}`` to, and logs a warning naming the file and the count.

Use :func:`read_qa_file` for any file (it recognises the shipped formats and falls back to
:func:`read_table` for .jsonl/.csv/.tsv), :func:`read_table` for your own files with a column mapping and
:func:`read_records` for a Hugging Face ``datasets.Dataset`` or a list of dicts, e.g. the paper's hub set::

    read_records(datasets.load_dataset(HUB_QA_DATASET, split="train"), source="inbedder-pretrain")
"""

from __future__ import annotations

import json
import logging
import os
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path

from inbedder_st.rows import JsonLineError, read_csv, read_json_lines

from .records import QARecord

logger = logging.getLogger(__name__)

HUB_QA_DATASET = "KomeijiForce/Inbedder-Pretrain-Data"  # fields: instruction, input, output

# The QA files in ../shared/data/qa (see DATA.md there), file name -> source name of their records.
KNOWN_QA_FILES: dict[str, str] = {
    "squad_v1.1_du_test.json": "squad",
    "xquad_en.json": "xquad",
    "tweetqa_train.json": "tweetqa",
    "tweetqa_dev.json": "tweetqa",
    "ropes_train.json": "ropes",
    "ropes_dev.json": "ropes",
    "boolq_val.jsonl": "boolq",
    "pubmedqa_pqal.json": "pubmedqa",
    "cosmosqa_valid.csv": "cosmosqa",
}
# Checked in this order, so "xquad..." is never taken for "squad...".
_SOURCE_PREFIXES = ("xquad", "squad", "ropes", "tweetqa", "boolq", "pubmedqa", "cosmosqa")
SUPPORTED_FORMATS = (
    "SQuAD-format JSON (SQuAD, XQuAD, ROPES background+situation), TweetQA JSON (column-wise or list of "
    "records), BoolQ JSONL, PubMedQA JSON, CosmosQA CSV, generic .jsonl/.csv/.tsv with "
    "input/instruction/output columns, a JSON list of such records"
)
DEFAULT_SHARED_QA = Path(__file__).resolve().parents[3] / "shared" / "data" / "qa"


def shared_qa_files(root: str | Path | None = None) -> list[Path]:
    """The known QA files present in ``root`` (default: $INBEDDER_DATA/qa, else ../shared/data/qa beside a
    repository checkout, as the labeled readers and the dev suite find the data)."""
    given = os.environ.get("INBEDDER_DATA")
    root = Path(root) if root is not None else Path(given) / "qa" if given else DEFAULT_SHARED_QA
    return [root / name for name in KNOWN_QA_FILES if (root / name).is_file()]


def normalize(text) -> str:
    """Collapse whitespace runs to one space and strip; ``None`` -> "", lists -> their first item."""
    if text is None:
        return ""
    if isinstance(text, (list, tuple)):
        return normalize(text[0]) if text else ""
    return " ".join(str(text).split())


def _join(parts: Iterable) -> str:
    return "\n\n".join(p for p in map(normalize, parts) if p)


class _Builder:
    """Collects records for one file, counting (and at the end logging) the ones it must skip."""

    def __init__(self, origin, source: str, skipped: Counter | None):
        self.origin, self.source, self.records = origin, source, []
        self.skipped = Counter()
        self.outer = skipped

    def add(self, input, instruction, output, reason: str = "", *, joined: bool = False) -> None:
        """Add one record (``joined``: input is already built by :func:`_join`), or count it as skipped."""
        input = input if joined else normalize(input)
        record = QARecord(input, normalize(instruction), normalize(output), self.source)
        empty = [name for name in ("input", "instruction", "output") if not getattr(record, name)]
        if reason or empty:
            self.skipped[reason or f"empty {'/'.join(empty)}"] += 1
        else:
            self.records.append(record)

    def done(self) -> list[QARecord]:
        if self.skipped:
            total = sum(self.skipped.values())
            logger.warning("%s: skipped %d record(s): %s", self.origin, total, dict(self.skipped))
            if self.outer is not None:
                self.outer.update(self.skipped)
        return self.records


def _source(path: Path) -> str:
    name = path.name.lower()
    return next((known for known in _SOURCE_PREFIXES if name.startswith(known)), path.stem)


def _load_json(path) -> object:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _read_jsonl(path) -> list[dict]:
    try:
        return read_json_lines(path)
    except JsonLineError as error:  # this reader's messages say "line N"
        raise ValueError(f"{path}, line {error.line}: not valid JSON ({error.reason})") from None


# --- the shipped formats --------------------------------------------------------------------------


def _squad(data: Mapping, out: _Builder) -> list[QARecord]:
    for article in data["data"]:
        for paragraph in article["paragraphs"]:
            if "context" in paragraph:
                passage = normalize(paragraph["context"])
            else:  # ROPES: background knowledge, then the situation the question is about
                passage = _join([paragraph.get("background"), paragraph.get("situation")])
            for qa in paragraph["qas"]:
                answers = [a for a in qa.get("answers") or [] if normalize(a.get("text"))]
                if not answers:
                    out.add(passage, qa.get("question"), "", reason="no answer", joined=True)
                else:
                    out.add(passage, qa.get("question"), answers[0]["text"], joined=True)
    return out.done()


def read_squad(path, source: str | None = None, *, skipped: Counter | None = None) -> list[QARecord]:
    """SQuAD-format JSON (SQuAD, XQuAD, ROPES): one record per question, its first answer as output.

    ROPES paragraphs have ``background`` and ``situation`` instead of ``context``: input is
    "background\\n\\nsituation". Questions without an answer are skipped and counted ("no answer").
    """
    path = Path(path)
    return _squad(_load_json(path), _Builder(path, source or _source(path), skipped))


def _tweetqa(data, out: _Builder) -> list[QARecord]:
    if isinstance(data, Mapping):  # pandas column-wise layout: {"Tweet": {"0": ...}, "Question": {...}, ...}
        rows = [{col: data[col].get(key) for col in ("Tweet", "Question", "Answer")} for key in data["Question"]]
    else:
        rows = data
    for row in rows:  # Answer is a string (train) or a list of annotators' answers (dev): take the first
        out.add(row.get("Tweet"), row.get("Question"), row.get("Answer"))
    return out.done()


def read_tweetqa(path, source: str | None = "tweetqa", *, skipped: Counter | None = None) -> list[QARecord]:
    """TweetQA JSON, column-wise pandas layout (train) or a list of records with Answer a list (dev)."""
    path = Path(path)
    return _tweetqa(_load_json(path), _Builder(path, source or _source(path), skipped))


_TRUE, _FALSE = {"true", "yes", "1"}, {"false", "no", "0"}


def _boolq(rows: list[dict], out: _Builder) -> list[QARecord]:
    for row in rows:
        label = row.get("answer", row.get("label"))  # HF BoolQ: answer (bool); SuperGLUE: label
        label = str(label).strip().lower()
        answer = "yes" if label in _TRUE else "no" if label in _FALSE else ""
        question = normalize(row.get("question"))
        if question and not question.endswith("?"):
            question += "?"
        out.add(row.get("passage"), question, answer, reason="" if answer else "no yes/no label")
    return out.done()


def read_boolq(path, source: str | None = "boolq", *, skipped: Counter | None = None) -> list[QARecord]:
    """BoolQ JSONL (passage, question, label or answer true/false): output "yes"/"no"; adds the missing '?'."""
    path = Path(path)
    return _boolq(_read_jsonl(path), _Builder(path, source or _source(path), skipped))


def _pubmedqa(data: Mapping, out: _Builder) -> list[QARecord]:
    for item in data.values():
        out.add(_join(item.get("CONTEXTS") or []), item.get("QUESTION"), item.get("final_decision"), joined=True)
    return out.done()


def read_pubmedqa(path, source: str | None = "pubmedqa", *, skipped: Counter | None = None) -> list[QARecord]:
    """PubMedQA JSON ({pmid: {QUESTION, CONTEXTS, final_decision, ...}}): contexts joined by blank lines."""
    path = Path(path)
    return _pubmedqa(_load_json(path), _Builder(path, source or _source(path), skipped))


def _cosmosqa(rows: list[dict], out: _Builder) -> list[QARecord]:
    for row in rows:
        label = str(row.get("label", "")).strip()
        valid = label in {"0", "1", "2", "3"}
        out.add(row.get("context"), row.get("question"), row.get(f"answer{label}") if valid else "",
                reason="" if valid else "no valid label")
    return out.done()


def read_cosmosqa(path, source: str | None = "cosmosqa", *, skipped: Counter | None = None) -> list[QARecord]:
    """CosmosQA CSV (context, question, answer0..answer3, label): output is the labelled answer.

    The text is kept as shipped (it is tokenised upstream, e.g. "wo nt", "divorce ?").
    """
    path = Path(path)
    return _cosmosqa(read_csv(path)[1], _Builder(path, source or _source(path), skipped))


# --- your own data ---------------------------------------------------------------------------------


def _check_columns(columns: Iterable[str], mapping: dict[str, str], origin) -> None:
    columns = list(columns)
    for field, column in mapping.items():
        if column not in columns:
            raise ValueError(
                f"{origin}: no column {column!r} (wanted as {field}); its columns are {columns}. "
                f"Map yours with e.g. {field}=<column name>."
            )


def read_records(
    rows: Iterable[Mapping],
    input: str = "input",
    instruction: str = "instruction",
    output: str = "output",
    *,
    source: str = "",
    skipped: Counter | None = None,
    origin: str = "records",
) -> list[QARecord]:
    """Records from a ``datasets.Dataset`` or any iterable of dicts, with a column mapping.

    A missing column raises ValueError naming it and ``origin``; rows with an empty field are skipped
    and counted. A list value (several reference answers) contributes its first item.
    """
    mapping = {"input": input, "instruction": instruction, "output": output}
    columns = getattr(rows, "column_names", None)  # datasets.Dataset: check once, up front
    if columns is not None:
        _check_columns(columns, mapping, origin)
    out = _Builder(origin, source, skipped)
    for number, row in enumerate(rows, 1):
        if not isinstance(row, Mapping):
            raise ValueError(f"{origin} (row {number}): expected an object with named fields, got {row!r:.80}")
        if columns is None:
            _check_columns(row.keys(), mapping, f"{origin} (row {number})")
        out.add(row[input], row[instruction], row[output])
    return out.done()


def read_table(
    path,
    input: str = "input",
    instruction: str = "instruction",
    output: str = "output",
    *,
    source: str | None = None,
    skipped: Counter | None = None,
) -> list[QARecord]:
    """Your own .jsonl / .csv / .tsv file, columns mapped to the record fields (defaults: the hub set's names),
    e.g. ``read_table("mine.csv", input="context", instruction="question", output="answer")``.
    ``source`` defaults to the file stem."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        rows = _read_jsonl(path)
    elif suffix in (".csv", ".tsv"):
        header, rows = read_csv(path)
        _check_columns(header, {"input": input, "instruction": instruction, "output": output}, path)
    else:
        raise ValueError(f"{path}: read_table reads .jsonl, .csv or .tsv files, not {suffix or 'no suffix'!r}")
    return read_records(rows, input, instruction, output, source=path.stem if source is None else source,
                        skipped=skipped, origin=str(path))


# --- dispatch --------------------------------------------------------------------------------------


def _is_squad(data) -> bool:
    return (isinstance(data, Mapping) and isinstance(data.get("data"), list)
            and all(isinstance(a, Mapping) and "paragraphs" in a for a in data["data"][:3]))


def _is_tweetqa(data) -> bool:
    first = data[0] if isinstance(data, list) and data else data
    return isinstance(first, Mapping) and {"Tweet", "Question", "Answer"} <= set(first)


def _is_pubmedqa(data) -> bool:
    first = next(iter(data.values()), None) if isinstance(data, Mapping) and data else None
    return isinstance(first, Mapping) and {"QUESTION", "CONTEXTS", "final_decision"} <= set(first)


def read_qa_file(path, *, skipped: Counter | None = None) -> list[QARecord]:
    """Any supported QA file, recognised by its name and structure (see ``SUPPORTED_FORMATS``).

    Shipped datasets get their short source name (squad, xquad, ropes, tweetqa, boolq, pubmedqa, cosmosqa),
    other files their stem. Unrecognised files raise ValueError naming the file and the supported formats.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such QA file")
    source, suffix = _source(path), path.suffix.lower()
    out = _Builder(path, source, skipped)
    if suffix == ".json":
        data = _load_json(path)
        if _is_squad(data):
            return _squad(data, out)
        if _is_tweetqa(data):
            return _tweetqa(data, out)
        if _is_pubmedqa(data):
            return _pubmedqa(data, out)
        if isinstance(data, list) and all(isinstance(row, Mapping) for row in data):
            return read_records(data, source=source, skipped=skipped, origin=str(path))
    elif suffix == ".jsonl":
        rows = _read_jsonl(path)
        first = rows[0] if rows else {}
        if {"passage", "question"} <= set(first) and ({"label", "answer"} & set(first)) and "input" not in first:
            return _boolq(rows, out)
        return read_records(rows, source=source, skipped=skipped, origin=str(path))
    elif suffix in (".csv", ".tsv"):
        header, rows = read_csv(path)
        if {"context", "question", "answer0", "answer1", "label"} <= set(header):
            return _cosmosqa(rows, out)
        _check_columns(header, {"input": "input", "instruction": "instruction", "output": "output"}, path)
        return read_records(rows, source=source, skipped=skipped, origin=str(path))
    raise ValueError(f"{path}: unrecognised QA file format; supported: {SUPPORTED_FORMATS}")
