"""The mteb encoder for a base model with instruction heads: each task's instruction picks its head.

mteb hands the encoder the task's instruction (``AbsEncoder.get_instruction``, as for ``InstructionEncoder``);
the texts are embedded by the base model *without* it (each distinct text once per run, kept in memory, so
tasks and subsets over the same texts share the work) and the head of that instruction maps them. An
instruction without a head is an error that lists the heads there are: a head set never falls back silently to
the base model.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from mteb.models import ModelMeta
from mteb.models.abs_encoder import AbsEncoder

from inbedder_st.heads.apply import apply_heads, named_heads
from inbedder_st.heads.model import HeadInfo, is_head_folder


def read_head_set(folder: str | Path) -> dict[str, tuple[HeadInfo, list]]:
    """{instruction: (HeadInfo, layers)} of the head folders directly inside ``folder`` (or ``folder`` itself)."""
    folder = Path(folder)
    if is_head_folder(folder):
        candidates = [folder]
    elif folder.is_dir():
        candidates = sorted(path for path in folder.iterdir() if is_head_folder(path))
    else:
        raise FileNotFoundError(f"No such heads folder: {str(folder)!r}.")
    if not candidates:
        raise FileNotFoundError(
            f"{str(folder)!r} holds no instruction head (a folder with inbedder_head.json written by "
            "`inbedder head fit` or heads.save_head)."
        )
    return named_heads(candidates)  # keyed by instruction; two heads answering one instruction are refused


class HeadsEncoder(AbsEncoder):
    """``mteb.evaluate(HeadsEncoder(base, heads), tasks)``: base embeddings of the bare texts, mapped by the
    head of each task's instruction."""

    def __init__(self, base, heads: Mapping[str, tuple[HeadInfo, list]], *, meta: ModelMeta, prompts_dict=None):
        if not heads:
            raise ValueError("HeadsEncoder needs at least one head.")
        dimension = base.get_embedding_dimension()
        for instruction, (info, _) in heads.items():
            if info.base_dim != dimension:
                raise ValueError(
                    f"The head for {instruction!r} sits on {info.base} ({info.base_dim} dimensions); the base model "
                    f"given outputs {dimension}."
                )
        self.model = base
        self.heads = dict(heads)
        self.prompts_dict = prompts_dict
        self.mteb_model_meta = meta
        self.instruction_mode = "heads"  # what `inbedder evaluate` reports
        self.cache = None  # an EmbeddingCache for the base embeddings (evaluation.run sets it)
        self._base: dict[str, np.ndarray] = {}

    def head_for(self, instruction: str | None) -> tuple[HeadInfo, list]:
        if instruction not in self.heads:
            raise KeyError(f"No head for the instruction {instruction!r}; heads in this set: {self._known()}.")
        return self.heads[instruction]

    def _known(self) -> str:
        return ", ".join(repr(key) for key in self.heads)

    def check_tasks(self, tasks) -> None:
        """Fail before anything runs when a task (or a subset of it) asks an instruction no head answers."""
        from mteb_tasks.instructed import InstructedTask

        missing: dict[str, list[str]] = {}
        for task in tasks:
            if not isinstance(task, InstructedTask):
                continue  # its instruction is checked when it is encoded
            for subset in task.metadata.hf_subsets or ["default"]:
                instruction = self.get_instruction(task.metadata_with_instruction(task.instruction_for(subset)), None)
                if instruction not in self.heads:
                    missing.setdefault(instruction, []).append(f"{task.metadata.name}/{subset}")
        if missing:
            asked = ", ".join(f"{instruction!r} (asked by {', '.join(names)})" for instruction, names in missing.items())
            raise KeyError(f"No head for the instruction(s) {asked}; heads in this set: {self._known()}.")

    def encode(self, inputs, *, task_metadata, hf_split, hf_subset, prompt_type=None, **kwargs: Any) -> np.ndarray:
        texts = [text for batch in inputs for text in batch["text"]]
        instruction = self.get_instruction(task_metadata, prompt_type)
        head = self.head_for(instruction)  # before any encoding: a missing head fails fast
        missing = list(dict.fromkeys(text for text in texts if text not in self._base))
        if missing:
            options = {k: kwargs[k] for k in ("batch_size", "show_progress_bar") if k in kwargs}
            if self.cache is not None:
                vectors = self.cache.encode(self.model, missing, prompt=None, **options)
            else:
                vectors = self.model.encode(missing, convert_to_numpy=True, **options)
            self._base.update(zip(missing, np.asarray(vectors, dtype=np.float32)))
        base = np.stack([self._base[text] for text in texts]) if texts else np.zeros((0, head[0].base_dim), np.float32)
        return apply_heads(base, {instruction: head})[instruction]

