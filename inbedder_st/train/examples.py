"""Training examples: prompt ids (QA order, passage-only truncation; the same ids inference builds) + the answer,
loss on the answer only."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from inbedder_st.backbones import family_class
from inbedder_st.backbones.family import IGNORE  # label value the loss skips; imported from here by train/
from inbedder_st.prompt_ids import NoRoomForText, PromptTokenizer
from inbedder_st.train.records import QARecord


class CachedPromptTokenizer(PromptTokenizer):
    """A PromptTokenizer that tokenizes many strings in one batched call (``prefetch``) and remembers them:
    preparing tens of thousands of records this way takes seconds instead of minutes."""

    def __init__(self, *args, **kwargs):
        self.cache: dict[str, list[int]] = {}  # before super().__init__, which tokenizes the template
        super().__init__(*args, **kwargs)

    def prefetch(self, texts, chunk: int = 4096) -> None:
        missing = list(dict.fromkeys(t for t in texts if t and t not in self.cache))
        for start in range(0, len(missing), chunk):
            part = missing[start : start + chunk]
            self.cache.update(zip(part, self._ids_many(part)))

    def _ids_many(self, texts: list[str]) -> list[list[int]]:
        return [list(ids) for ids in self.tokenizer(texts, add_special_tokens=False)["input_ids"]]

    def ids_of(self, text: str) -> list[int]:
        if text not in self.cache:
            self.cache[text] = super().ids_of(text)
        return self.cache[text]

    def prefetch_records(self, records) -> None:
        self.prefetch([field for r in records for field in (r.input, r.instruction, r.output)])


@dataclass
class Example:
    input_ids: list[int]
    labels: list[int]
    group: int = -1  # examples asking the same question (same source and wording) share a group; -1: none
    answer: int = -1  # within a group, examples with the same answer share this id


def build_examples(
    records: list[QARecord], tokenizer, template: str, max_length: int, family: str = "causal", prompts=None
) -> tuple[list[Example], int]:
    """One example per record; returns the examples and how many passages were truncated to fit. The family lays
    out each example (``training_example`` in backbones/): causal prompt + answer + EOS, masked one mask per
    answer token, seq2seq the answer as the decoder's labels."""
    if prompts is None:
        prompts = CachedPromptTokenizer(tokenizer, template, max_length)
        prompts.prefetch_records(records)
    layout = family_class(family)(None, tokenizer)  # only the tokenizer is needed to lay out an example
    examples, truncated = [], 0
    for record in records:
        answer = prompts.ids_of(record.output)[: max_length // 4]  # a runaway answer must not eat the passage

        def prompt_for(reserve: int) -> list[int]:
            nonlocal truncated
            try:
                built = prompts.build([record.input], record.instruction, reserve=reserve)
            except NoRoomForText:
                raise ValueError(
                    f"Question plus answer leave no room for the passage in {max_length} tokens: {record!r:.200}"
                ) from None
            truncated += built.n_truncated
            return built.ids[0]

        input_ids, labels = layout.training_example(prompt_for, answer)
        examples.append(Example(input_ids=input_ids, labels=labels))
    return examples, truncated


def collate(examples: list[Example], pad_id: int) -> dict[str, torch.Tensor]:
    """Right padding: in training every position's loss is independent of the pads after it.

    Labels get their own width: a seq2seq example's labels (the decoder's) are not aligned with its input.
    """
    width = max(len(e.input_ids) for e in examples)
    input_ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    labels = torch.full((len(examples), max(len(e.labels) for e in examples)), IGNORE, dtype=torch.long)
    attention_mask = torch.zeros((len(examples), width), dtype=torch.long)
    for row, example in enumerate(examples):
        n = len(example.input_ids)
        input_ids[row, :n] = torch.tensor(example.input_ids)
        labels[row, : len(example.labels)] = torch.tensor(example.labels)
        attention_mask[row, :n] = 1
    return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}
