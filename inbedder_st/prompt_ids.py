"""Segment-wise tokenization: template parts, text and instruction are tokenized apart and concatenated.

Consequences (DESIGN.md, decision 2): truncation can cut the text alone, never the instruction or the
answer cue; and the ids of everything before the instruction do not depend on the instruction.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from inbedder_st.templates import split_template


@dataclass
class PromptIds:
    ids: list[list[int]]
    n_truncated: int


def special_ids_around(tokenizer) -> tuple[list[int], list[int]]:
    """The special ids the tokenizer puts before and after a text by default.

    E.g. Llama: ([BOS], []), RoBERTa: ([<s>], [</s>]), BERT: ([CLS], [SEP]), T5: ([], [</s>]).
    """
    plain = tokenizer("a", add_special_tokens=False)["input_ids"]
    full = tokenizer("a")["input_ids"]
    for start in range(len(full) - len(plain) + 1):
        if full[start : start + len(plain)] == plain:
            return list(full[:start]), list(full[start + len(plain) :])
    return [], []


class PromptTokenizer:
    """Builds prompt ids for (texts, instruction) under one template.

    ``trailing`` ids follow the template's last segment: nothing for a decoder (it must predict the answer
    right after the answer cue), the mask tokens and end token for a masked LM, the end token for T5's
    encoder. The leading special ids (BOS, CLS) are the tokenizer's own.
    """

    def __init__(self, tokenizer, template: str, max_length: int, trailing: list[int] | None = None):
        self.tokenizer = tokenizer
        self.segments = split_template(template)
        self.max_length = max_length
        self.leading = special_ids_around(tokenizer)[0]
        self.trailing = list(trailing or [])
        self.prefix = self.ids_of(self.segments.prefix)
        self.middle = self.ids_of(self.segments.middle)
        self.suffix = self.ids_of(self.segments.suffix)

    def ids_of(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"]) if text else []

    def _ids_many(self, texts: list[str]) -> list[list[int]]:
        if not texts:
            return []
        return [list(ids) for ids in self.tokenizer(texts, add_special_tokens=False)["input_ids"]]

    def text_budget(self, instruction_ids: list[int]) -> int:
        fixed = len(self.leading) + len(self.prefix) + len(self.middle) + len(self.suffix) + len(self.trailing)
        fixed += len(instruction_ids)
        budget = self.max_length - fixed
        if budget < 1:
            raise ValueError(
                f"The template and instruction alone take {fixed} tokens, leaving no room for the text "
                f"within max_length={self.max_length}. Shorten the instruction or raise max_length."
            )
        return budget

    def text_ids(self, texts: list[str], instruction_ids: list[int]) -> tuple[list[list[int]], int]:
        """Tokenized texts, each cut at its end to the room the instruction leaves."""
        budget = self.text_budget(instruction_ids)
        ids = self._ids_many(texts)
        n_truncated = sum(len(t) > budget for t in ids)
        return [t[:budget] for t in ids], n_truncated

    def build(self, texts: list[str], instruction: str) -> PromptIds:
        instruction_ids = self.ids_of(instruction)
        text_ids, n_truncated = self.text_ids(texts, instruction_ids)
        prompts = [self.join(t, instruction_ids) for t in text_ids]
        return PromptIds(ids=prompts, n_truncated=n_truncated)

    def join(self, text_ids: list[int], instruction_ids: list[int]) -> list[int]:
        first, second = (text_ids, instruction_ids) if self.segments.input_first else (instruction_ids, text_ids)
        return self.leading + self.prefix + first + self.middle + second + self.suffix + self.trailing


def pad(id_lists: list[list[int]], pad_id: int, side: str = "left") -> dict[str, torch.Tensor]:
    """Pad to a rectangle; left padding keeps every prompt's last token in the last column."""
    width = max((len(ids) for ids in id_lists), default=0)
    input_ids = torch.full((len(id_lists), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(id_lists), width), dtype=torch.long)
    for row, ids in enumerate(id_lists):
        if not ids:
            continue
        span = slice(width - len(ids), width) if side == "left" else slice(0, len(ids))
        input_ids[row, span] = torch.tensor(ids, dtype=torch.long)
        attention_mask[row, span] = 1
    return {"input_ids": input_ids, "attention_mask": attention_mask}
