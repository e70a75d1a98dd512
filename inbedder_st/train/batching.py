"""Batches for training: seeded, length-bucketed, optionally grouped by question, and moved to the device.

Length bucketing: each epoch is a seeded permutation cut into spans of ``bucket_batches`` batches; a span is
sorted by length before it is cut into batches, and the batches are shuffled, so a batch pads little and the
order stays random. Grouping (for the contrastive term): examples that ask the same question (same source
and wording) are kept together in runs of ``group_size``, so a batch holds several texts per question.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict

import torch

from inbedder_st.train.examples import IGNORE, Example, collate
from inbedder_st.train.records import QARecord


def assign_groups(records: list[QARecord], examples: list[Example]) -> int:
    """Set ``group`` (same source and question, asked of 2+ texts) and ``answer`` ids; returns the group count."""
    counts = Counter((record.source, record.instruction) for record in records)
    groups: dict[tuple, int] = {}
    answers: dict[tuple, int] = {}
    for record, example in zip(records, examples, strict=True):
        key = (record.source, record.instruction)
        if counts[key] >= 2:
            example.group = groups.setdefault(key, len(groups))
            example.answer = answers.setdefault((key, record.output.lower()), len(answers))
    return len(groups)


def epoch_batches(
    examples: list[Example], batch_size: int, seed: int, epoch: int, group_size: int = 1, bucket: bool = True,
    bucket_batches: int = 50,
) -> list[list[int]]:  # fmt: skip
    """The epoch's batches as lists of example indices (full batches only), a pure function of its arguments."""
    rng = random.Random(seed * 7919 + epoch)
    order = list(range(len(examples)))
    rng.shuffle(order)
    if group_size > 1:
        grouped: dict[int, list[int]] = defaultdict(list)
        loose = []
        for index in order:
            (grouped[examples[index].group] if examples[index].group >= 0 else loose).append(index)
        members = [grouped[group] for group in sorted(grouped)] + [loose]
        units = [run[start : start + group_size] for run in members for start in range(0, len(run), group_size)]
        rng.shuffle(units)
    else:
        units = [[index] for index in order]
    if bucket:
        span, sorted_units, chunk, size = batch_size * bucket_batches, [], [], 0
        for unit in units + [None]:
            if unit is not None:
                chunk.append(unit)
                size += len(unit)
            if size >= span or (unit is None and chunk):
                chunk.sort(key=lambda u: max(len(examples[i].input_ids) for i in u))
                sorted_units.extend(chunk)
                chunk, size = [], 0
        units = sorted_units
    flat = [index for unit in units for index in unit]
    batches = [flat[start : start + batch_size] for start in range(0, len(flat) - batch_size + 1, batch_size)]
    if bucket:
        rng.shuffle(batches)
    return batches


def micro_batches(examples: list[Example], batch_size: int, seed: int, total: int, **options):
    """The seeded stream of ``total`` micro-batches (lists of examples), epoch after epoch."""
    produced, epoch = 0, 0
    while produced < total:
        batches = epoch_batches(examples, batch_size, seed, epoch, **options)
        if not batches:
            raise ValueError(f"Need at least batch_size={batch_size} training examples, got {len(examples)}.")
        for indices in batches:
            if produced == total:
                return
            yield [examples[i] for i in indices]
            produced += 1
        epoch += 1


def device_batch(examples: list[Example], pad_id: int, device: torch.device, family: str = "causal") -> dict[str, torch.Tensor]:
    """Collated tensors on ``device``. Causal: also the answer positions, computed on the host so that no
    step waits for the device (``answer_rows``/``answer_cols``/``answer_targets``: every answer token;
    ``first_cols``: the position predicting each example's first answer token, the fst_gen state)."""
    batch = collate(examples, pad_id)
    if family == "causal":
        targets = batch["labels"][:, 1:]
        answer = targets != IGNORE
        rows, cols = answer.nonzero(as_tuple=True)
        batch.update(answer_rows=rows, answer_cols=cols, answer_targets=targets[rows, cols],
                     first_cols=answer.long().argmax(dim=1), first_targets=targets[torch.arange(len(examples)), answer.long().argmax(dim=1)])  # fmt: skip
    batch["groups"] = torch.tensor([e.group for e in examples], dtype=torch.long)
    batch["answers"] = torch.tensor([e.answer for e in examples], dtype=torch.long)
    if device.type == "cuda":
        return {k: v.pin_memory().to(device, non_blocking=True) for k, v in batch.items()}
    return {k: v.to(device) for k, v in batch.items()}
