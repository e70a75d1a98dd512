"""The one record type every QA reader produces: answer ``instruction`` (a question) about ``input``."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class QARecord:
    input: str  # the passage / context the question is about
    instruction: str  # the question
    output: str  # the short answer
    source: str = ""  # dataset name, for mixing and reporting
