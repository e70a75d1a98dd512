"""Training examples: prompt ids (QA order, passage-only truncation) + answer ids + EOS, loss on the answer."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from inbedder_st.prompt_ids import PromptTokenizer
from inbedder_st.train.records import QARecord

IGNORE = -100  # label value the loss skips


@dataclass
class Example:
    input_ids: list[int]
    labels: list[int]


def build_examples(records: list[QARecord], tokenizer, template: str, max_length: int) -> tuple[list[Example], int]:
    """One example per record; returns the examples and how many passages were truncated to fit.

    There is no space or newline between the answer cue and the answer, as in the paper's training strings.
    """
    prompts = PromptTokenizer(tokenizer, template, max_length)
    eos = tokenizer.eos_token_id
    examples, truncated = [], 0
    for record in records:
        instruction = prompts.ids_of(record.instruction)
        answer = prompts.ids_of(record.output)[: max_length // 4] + [eos]  # a runaway answer must not eat the passage
        budget = prompts.text_budget(instruction) - len(answer)
        if budget < 1:
            raise ValueError(f"Question plus answer leave no room for the passage in {max_length} tokens: {record!r:.200}")
        passage = prompts.ids_of(record.input)
        truncated += len(passage) > budget
        prompt = prompts.join(passage[:budget], instruction)
        examples.append(Example(input_ids=prompt + answer, labels=[IGNORE] * len(prompt) + answer))
    return examples, truncated


def collate(examples: list[Example], pad_id: int) -> dict[str, torch.Tensor]:
    """Right padding: in training every position's loss is independent of the pads after it."""
    width = max(len(e.input_ids) for e in examples)
    input_ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    labels = torch.full((len(examples), width), IGNORE, dtype=torch.long)
    attention_mask = torch.zeros((len(examples), width), dtype=torch.long)
    for row, example in enumerate(examples):
        n = len(example.input_ids)
        input_ids[row, :n] = torch.tensor(example.input_ids)
        labels[row, :n] = torch.tensor(example.labels)
        attention_mask[row, :n] = 1
    return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}
