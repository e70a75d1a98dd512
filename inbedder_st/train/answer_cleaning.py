"""Answer preprocessing from the paper: stopwords removed, whitespace normalised (reference section 4).

Policy for answers that stopword removal would empty ("no", "not at all"): keep the normalised original.
Dropping them would silently bias the mix against negative yes/no answers, and "no" is a real answer.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from inbedder_st.stopwords import english_stopwords
from inbedder_st.train.records import QARecord

_EDGE_PUNCTUATION = ".,;:!?\"'()"


def normalise_whitespace(text: str) -> str:
    return " ".join(text.split())


def without_stopwords(answer: str) -> str:
    """The answer's words minus NLTK English stopwords (case-insensitive, whole words); may be empty."""
    stop = set(english_stopwords())
    words = normalise_whitespace(answer).split(" ")
    kept = [w for w in words if w.lower().strip(_EDGE_PUNCTUATION) not in stop and w.strip(_EDGE_PUNCTUATION)]
    return " ".join(kept)


@dataclass
class AnswerStats:
    records: int
    all_stopwords: int  # answers made only of stopwords, kept in their original form
    mean_answer_tokens: float


def prepare(records: list[QARecord], tokenizer=None) -> tuple[list[QARecord], AnswerStats]:
    """Preprocess every answer; count the all-stopword ones and measure the mean answer length in tokens."""
    prepared, all_stopwords = [], 0
    for record in records:
        answer = without_stopwords(record.output)
        if not answer:
            all_stopwords += 1
            answer = normalise_whitespace(record.output)
        prepared.append(
            replace(
                record,
                input=normalise_whitespace(record.input),
                instruction=normalise_whitespace(record.instruction),
                output=answer,
            )
        )
    mean_tokens = 0.0
    if tokenizer is not None and prepared:
        lengths = [len(ids) for ids in tokenizer([r.output for r in prepared], add_special_tokens=False)["input_ids"]]
        mean_tokens = sum(lengths) / len(lengths)
    return prepared, AnswerStats(len(prepared), all_stopwords, mean_tokens)
