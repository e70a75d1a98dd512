"""The one record type every QA reader produces: answer ``instruction`` (a question) about ``input``."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class QARecord:
    input: str  # the passage / context the question is about
    instruction: str  # the question
    output: str  # the short answer
    source: str = ""  # dataset name, for mixing and reporting
    aspect: str = ""  # labeled records only: what the question asks about (emotion, intent, ...)
    style: str = ""  # labeled records only: open, yes_no, either_or or implicit
