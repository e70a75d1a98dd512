"""Training examples: prompt ids (QA order, passage-only truncation; the same ids inference builds) + the answer,
loss on the answer only."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from inbedder_st.prompt_ids import NoRoomForText, PromptTokenizer, special_ids_around
from inbedder_st.train.records import QARecord

IGNORE = -100  # label value the loss skips


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
    """One example per record; returns the examples and how many passages were truncated to fit.

    causal:  prompt + answer + EOS, labels on the answer and EOS. There is no space or newline between the
             answer cue and the answer, as in the paper's training strings.
    masked:  prompt + one mask per answer token + end token, labels at the masks (the paper's recipe).
    seq2seq: prompt + end token to the encoder, labels = answer + EOS for the decoder.
    """
    if prompts is None:
        prompts = CachedPromptTokenizer(tokenizer, template, max_length)
        prompts.prefetch_records(records)
    end = special_ids_around(tokenizer)[1] if family != "causal" else []
    eos = tokenizer.eos_token_id
    examples, truncated = [], 0
    for record in records:
        answer = prompts.ids_of(record.output)[: max_length // 4]  # a runaway answer must not eat the passage
        if family == "masked":
            answer = answer or [tokenizer.unk_token_id]  # an empty answer still needs one mask to train
            after = [tokenizer.mask_token_id] * len(answer) + end
        else:
            answer = answer + [eos]
            after = end if family == "seq2seq" else answer
        try:
            built = prompts.build([record.input], record.instruction, reserve=len(after))
        except NoRoomForText:
            raise ValueError(f"Question plus answer leave no room for the passage in {max_length} tokens: {record!r:.200}") from None
        truncated += built.n_truncated
        prompt = built.ids[0]
        if family == "seq2seq":
            examples.append(Example(input_ids=prompt + end, labels=answer))
        elif family == "masked":
            examples.append(Example(input_ids=prompt + after, labels=[IGNORE] * len(prompt) + answer + [IGNORE] * len(end)))
        else:
            examples.append(Example(input_ids=prompt + answer, labels=[IGNORE] * len(prompt) + answer))
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
