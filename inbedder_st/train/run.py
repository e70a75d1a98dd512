"""One training run end to end: read and mix QA files, preprocess answers, fine-tune, save a loadable model."""

from __future__ import annotations

import json
import logging
import random
from collections import Counter, defaultdict
from dataclasses import asdict
from pathlib import Path

from inbedder_st.prompt_ids import PromptTokenizer
from inbedder_st.train import answers
from inbedder_st.train.loop import TrainConfig, train
from inbedder_st.train.readers import read_qa_file
from inbedder_st.train.records import QARecord

logger = logging.getLogger(__name__)


def read_all(files: list[str]) -> tuple[list[QARecord], dict]:
    """Records of all files, with the per-dataset counts and what the readers skipped (and why)."""
    records: list[QARecord] = []
    skipped: Counter = Counter()
    for path in files:
        records.extend(read_qa_file(path, skipped=skipped))
    return records, {"read_per_source": dict(Counter(r.source for r in records)), "skipped_while_reading": dict(skipped)}


def sample_per_source(records: list[QARecord], limit: int | None, seed: int) -> list[QARecord]:
    """At most ``limit`` records per dataset, a seeded sample, in a stable order."""
    by_source: dict[str, list[QARecord]] = defaultdict(list)
    for record in records:
        by_source[record.source].append(record)
    sampled = []
    for source in sorted(by_source):
        group = by_source[source]
        if limit is not None and len(group) > limit:
            group = random.Random(f"{seed}:{source}").sample(group, limit)
        sampled.extend(group)
    return sampled


def fitting(records: list[QARecord], tokenizer, template: str, max_length: int) -> tuple[list[QARecord], int]:
    """Only the records whose whole passage fits (so an extractive answer is never cut out of its passage)."""
    prompts = PromptTokenizer(tokenizer, template, max_length)
    kept = []
    for record in records:
        if prompts.fits(record.input, record.instruction, reserve=len(prompts.ids_of(record.output)) + 1):
            kept.append(record)
    return kept, len(records) - len(kept)


def run_training(
    model,
    files: list[str],
    config: TrainConfig,
    limit_per_source: int | None = None,
    only_fitting: bool = False,
) -> dict:
    """Train ``model`` (an InBedderModel) in place and save it to ``config.output_dir``; returns the recipe."""
    module = model[0]
    records, mix = read_all(files)
    if only_fitting:
        records, mix["dropped_too_long"] = fitting(records, module.tokenizer, module.template, config.max_length)
        logger.warning("Left out %d records whose passage does not fit in %d tokens.", mix["dropped_too_long"], config.max_length)
    records = sample_per_source(records, limit_per_source, config.seed)
    records, stats = answers.prepare(records, module.tokenizer)
    mix["answers"] = asdict(stats)
    mix["trained_per_source"] = dict(Counter(r.source for r in records))
    result = train(module, records, config)
    output = Path(config.output_dir)
    model.save(str(output))
    recipe = {
        "base": module.backbone,
        "template": module.template,
        "data_files": [Path(f).name for f in files],
        "mix": mix,
        "config": asdict(config),
        "result": asdict(result),
    }
    (output / "training_recipe.json").write_text(json.dumps(recipe, indent=2), encoding="utf-8")
    return recipe
