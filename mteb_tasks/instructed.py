"""What every InBedder task shares: an instruction per subset (or per row), and how it reaches the model.

The instruction travels the way mteb passes prompts: each encode call gets the task's metadata with
``prompt`` set to the instruction in force, and the encoder (``AbsEncoder.get_instruction``) reads it from
there. One task can therefore ask different questions per subset (IntentEmotion: emotion, intent) or per
row (InstructSTSB), and a user's ``prompts_dict`` still overrides it by task name like for any mteb task.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np
from datasets import Dataset, DatasetDict, load_dataset
from mteb.abstasks.abstask import AbsTask
from mteb.timing import TimingStack

from mteb_tasks import hub
from mteb_tasks.encoder import instruction_aware, prefetching

if TYPE_CHECKING:
    from mteb.abstasks.task_metadata import TaskMetadata
    from torch.utils.data import DataLoader

logger = logging.getLogger(__name__)


class InstructedTask(AbsTask):
    """Mixin for the abstract tasks of this package (use it first in the bases)."""

    # Instruction per hf subset; subsets not listed use ``metadata.prompt``.
    subset_instructions: dict[str, str] = {}
    # Robustness lists ("correct", "implicit", "incorrect" -> instructions) for tasks that have them.
    instruction_variants: dict[str, list[str]] = {}
    # Instructions asked of the same texts by sibling tasks (a robustness variant's family, robustness.py): an
    # encoder that can prefetch embeds the texts under all of them at once.
    instruction_family: tuple[str, ...] = ()

    def instruction_for(self, hf_subset: str) -> str:
        instruction = self.subset_instructions.get(hf_subset) or self.metadata.prompt
        if not isinstance(instruction, str) or not instruction.strip():
            raise ValueError(
                f"Task {self.metadata.name!r} has no instruction for subset {hf_subset!r}: set metadata.prompt "
                "or subset_instructions."
            )
        return instruction

    def metadata_with_instruction(self, instruction: str) -> TaskMetadata:
        return self.metadata.model_copy(update={"prompt": instruction})

    # ----- data -------------------------------------------------------------------------------
    def load_data(self, num_proc: int | None = None, *, timer: TimingStack | None = None, **kwargs: Any) -> None:
        """mteb's loading steps (read, then ``dataset_transform``) with a swappable reader: the hub or its
        local mirror for hub tasks (see ``hub.py``), a user's table for factory tasks."""
        if self.data_loaded:
            return
        timer = timer or TimingStack()
        with timer("Data loading", log_message=f"Loading dataset {self.metadata.name}..."):
            self.dataset = self.read_dataset(num_proc=num_proc)
        with timer("Dataset transform"):
            self.dataset_transform(num_proc=num_proc)
        self.data_loaded = True

    def read_dataset(self, num_proc: int | None = None) -> DatasetDict | dict[str, DatasetDict]:
        args = hub.load_dataset_args(self.metadata.name, self.metadata.dataset)
        if not self.metadata.is_multilingual:
            return load_dataset(**args, num_proc=num_proc)
        return {subset: load_dataset(**args, name=subset, num_proc=num_proc) for subset in self.hf_subsets}

    def splits_by_subset(self) -> dict[str, DatasetDict]:
        """The loaded data as {subset: {split: Dataset}} whatever the task's shape."""
        if self.metadata.is_multilingual:
            return self.dataset
        return {"default": self.dataset}

    def map_splits(self, transform) -> None:
        """Apply ``transform(dataset, hf_subset, split) -> Dataset`` to every loaded split."""
        new = {
            subset: DatasetDict({split: transform(ds, subset, split) for split, ds in splits.items()})
            for subset, splits in self.splits_by_subset().items()
        }
        self.dataset = new if self.metadata.is_multilingual else new["default"]

    # ----- evaluation -------------------------------------------------------------------------
    def evaluate(self, model, split: str = "test", subsets_to_run=None, *, encode_kwargs, **kwargs):
        encoder = instruction_aware(model)
        with prefetching(encoder, self.instruction_family):
            return super().evaluate(encoder, split, subsets_to_run, encode_kwargs=encode_kwargs, **kwargs)

    def embed(
        self,
        model,
        texts: list[str],
        instruction: str,
        *,
        hf_split: str,
        hf_subset: str,
        encode_kwargs: dict[str, Any],
        num_proc: int | None = None,
    ) -> np.ndarray:
        """Embed ``texts`` under one instruction; each distinct text is encoded once."""
        unique = list(dict.fromkeys(texts))
        embeddings = encode_texts(
            model, unique, self.metadata_with_instruction(instruction), hf_split=hf_split, hf_subset=hf_subset,
            encode_kwargs=encode_kwargs, num_proc=num_proc,
        )  # fmt: skip
        row = {text: i for i, text in enumerate(unique)}
        return embeddings[[row[text] for text in texts]]

    def embed_per_row(self, model, texts: list[str], instructions: list[str], **encode_args: Any) -> np.ndarray:
        """Embed ``texts[i]`` under ``instructions[i]``: one encode call per distinct instruction."""
        out: np.ndarray | None = None
        for instruction in dict.fromkeys(instructions):
            rows = [i for i, inst in enumerate(instructions) if inst == instruction]
            embeddings = self.embed(model, [texts[i] for i in rows], instruction, **encode_args)
            if out is None:
                out = np.zeros((len(texts), embeddings.shape[1]), dtype=np.float32)
            out[rows] = embeddings
        return out if out is not None else np.zeros((0, 0), dtype=np.float32)


def text_loader(texts: list[str], batch_size: int = 32, num_proc: int | None = None, **unused: Any) -> DataLoader:
    """Texts as the data loader mteb hands an encoder: batches ``{"text": [...]}`` in order (what mteb's own,
    private, loader builds for a text task). ``unused``: the rest of mteb's encode_kwargs."""
    from torch.utils.data import DataLoader

    workers = num_proc if num_proc is not None and num_proc > 1 else 0
    return DataLoader(Dataset.from_dict({"text": list(texts)}), batch_size=batch_size, num_workers=workers)


def encode_texts(
    model,
    texts: list[str],
    metadata: TaskMetadata,
    *,
    hf_split: str,
    hf_subset: str,
    encode_kwargs: dict[str, Any],
    num_proc: int | None = None,
) -> np.ndarray:
    """``model.encode`` through mteb's encoder protocol; the instruction travels in ``metadata.prompt``."""
    loader = text_loader(texts, num_proc=num_proc, **encode_kwargs)
    embeddings = model.encode(loader, task_metadata=metadata, hf_split=hf_split, hf_subset=hf_subset, **encode_kwargs)
    return np.asarray(embeddings.cpu() if hasattr(embeddings, "cpu") else embeddings, dtype=np.float32)


def cosine_pairs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine similarity (a zero vector has similarity 0 to everything)."""
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    dots = np.einsum("ij,ij->i", a.astype(np.float64), b.astype(np.float64))
    return np.divide(dots, norms, out=np.zeros_like(dots), where=norms > 0)
