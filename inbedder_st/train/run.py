"""One training run end to end: read and mix QA files, preprocess answers, fine-tune, save a loadable model."""

from __future__ import annotations

import hashlib
import json
import logging
import random
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path

from inbedder_st.train import answer_cleaning, labeled
from inbedder_st.train.examples import CachedPromptTokenizer
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
    prompts = CachedPromptTokenizer(tokenizer, template, max_length)
    prompts.prefetch_records(records)
    kept = []
    for record in records:
        if prompts.fits(record.input, record.instruction, reserve=len(prompts.ids_of(record.output)) + 1):
            kept.append(record)
    return kept, len(records) - len(kept)


@dataclass
class LabeledOptions:
    """Mixing answer-supervised records from labeled text (labeled.py) into the QA files."""

    root: str | None = None  # the shared data folder (default: $INBEDDER_DATA or ../shared/data)
    per_source: int | None = 4000  # at most this many texts per labeled source (seeded sample)
    per_text: int = 1  # questions asked of each text
    max_share: float = 0.5  # labeled records are at most this share of the mix (the QA files stay the backbone)
    validation_per_aspect: int = 60  # internal validation records per aspect
    extra_wordings: tuple[str, ...] = ()  # wordings files that add to wordings.json (labeled.extend_wordings)


def mix_labeled(qa: list[QARecord], generated: list[QARecord], max_share: float, seed: int) -> list[QARecord]:
    """At most ``max_share`` of the mix labeled: a seeded sample of ``generated`` when it has too many."""
    if not 0 < max_share <= 1:
        raise ValueError(f"The labeled share must be in (0, 1], got {max_share}.")
    if max_share == 1:
        return generated
    if not qa:
        raise ValueError("Labeled records mix into QA records (at most a share of the mix); no QA records were given. "
                         "Add QA files to --data, or allow a labeled share of 1.")  # fmt: skip
    limit = int(len(qa) * max_share / (1 - max_share))
    if len(generated) <= limit:
        return generated
    chosen = sorted(random.Random(f"{seed}:labeled-share").sample(range(len(generated)), limit))
    return [generated[i] for i in chosen]


def run_training(
    model,
    files: list[str],
    config: TrainConfig,
    limit_per_source: int | None = None,
    only_fitting: bool = False,
    labeled_options: LabeledOptions | None = None,
) -> dict:
    """Train ``model`` (an InBedderModel) in place and save it to ``config.output_dir``; returns the recipe.

    ``files``: QA files; ``labeled_options``: also mix in labeled-text records (and validate on their
    internal validation set, which picks the kept step)."""
    module = model[0]
    records, mix = read_all(files)
    logger.info("Read %d QA records from %d files.", len(records), len(files))
    if only_fitting:
        records, mix["dropped_too_long"] = fitting(records, module.tokenizer, module.template, config.max_length)
        logger.warning("Left out %d records whose passage does not fit in %d tokens.", mix["dropped_too_long"], config.max_length)
    records = sample_per_source(records, limit_per_source, config.seed)
    validation = []
    if labeled_options is not None:
        spec = labeled.load_wordings(extra=tuple(Path(file).resolve() for file in labeled_options.extra_wordings))
        data = labeled.build(labeled_options.root, seed=config.seed, per_source=labeled_options.per_source,
                             per_text=labeled_options.per_text, validation_per_aspect=labeled_options.validation_per_aspect,
                             spec=spec)  # fmt: skip
        generated = data.train
        logger.info("Generated %d labeled training and %d validation records.", len(generated), len(data.validation))
        if only_fitting:
            generated, dropped = fitting(generated, module.tokenizer, module.template, config.max_length)
            data.stats["dropped_too_long"] = dropped
        generated = mix_labeled(records, generated, labeled_options.max_share, config.seed)
        data.stats["trained"] = labeled.describe(generated)
        mix["labeled"] = {"options": asdict(labeled_options), **data.stats}
        if labeled_options.extra_wordings:  # the recipe says exactly which wordings trained
            mix["labeled"]["extra_wordings_sha256"] = {
                Path(file).name: hashlib.sha256(Path(file).read_bytes()).hexdigest() for file in labeled_options.extra_wordings
            }
        records = records + generated
        validation, _ = answer_cleaning.prepare(data.validation)
    records, stats = answer_cleaning.prepare(records, module.tokenizer)
    logger.info("Training on %d records (QA share %.2f).", len(records), sum(not r.aspect for r in records) / max(len(records), 1))
    mix["answers"] = asdict(stats)
    mix["trained_per_source"] = dict(Counter(r.source for r in records))
    mix["qa_share"] = round(sum(not r.aspect for r in records) / max(len(records), 1), 4)
    result = train(module, records, config, validation_records=validation)
    output = Path(config.output_dir)
    model.save(str(output))
    recipe = {
        "base": module.backbone,
        "template": module.template,
        "data_files": [Path(f).name for f in files] + (["labeled"] if labeled_options is not None else []),
        "mix": mix,
        "config": asdict(config),
        "result": asdict(result),
    }
    (output / "training_recipe.json").write_text(json.dumps(recipe, indent=2), encoding="utf-8")
    return recipe
