"""What a model family provides to the InBedder module: one small class per family, this file's ``Family``.

A family object is built from the backbone and its tokenizer; each call gets the module's settings for that
call as a ``ReadSettings`` (data in, tensors out), so the family never reads the module and the module never
passes itself down. ``causal.py``, ``masked.py`` and ``seq2seq.py`` implement it; a new family is one such
file plus its name in ``backbones/__init__.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Protocol

import torch


@dataclass
class GenerationSettings:
    max_new_tokens: int = 3
    do_sample: bool = False
    temperature: float = 0.6
    top_p: float = 0.9
    seed: int = 42


@dataclass
class AnswerSpaceSettings:
    """The answer-space readouts' settings (answer_space.py)."""

    dropped: torch.Tensor | None = None  # [vocab] bool: tokens left out of the answer distribution
    temperature: float = 2.0
    top_k: int = 64
    steps: str = "first"


@dataclass
class ReadSettings:
    """The module's settings for one call, as a family reads them."""

    pooling: str
    layer: int  # index into the hidden states: 0 = embeddings, num_layers = last
    generation: GenerationSettings = field(default_factory=GenerationSettings)
    drop_ids: set[int] = field(default_factory=set)  # tokens whose predicting state the generation poolings skip
    mask_length: int = 3
    lm_head_transform: bool = False
    answer_space: AnswerSpaceSettings = field(default_factory=AnswerSpaceSettings)


@dataclass
class Generation:
    prompt_states: torch.Tensor  # [B, P, H] at the chosen layer
    answer_states: torch.Tensor  # [B, T, H]; column t predicts answer token t (causal: column 0 = last prompt state)
    keep: torch.Tensor  # [B, T] bool, the paper's keep rule
    answer_ids: torch.Tensor  # [B, T] generated tokens (pad after a row stopped)
    stopped: torch.Tensor  # [B, T] bool, True from a row's stop token on


IGNORE = -100  # label value the training loss skips


class Family(Protocol):
    name: ClassVar[str]
    padding_side: ClassVar[str]  # "left" or "right"
    poolings: ClassVar[tuple[str, ...]]  # the first is the default
    model: torch.nn.Module
    tokenizer: object

    def __init__(self, model, tokenizer) -> None: ...

    @staticmethod
    def load(name_or_path: str, model_kwargs: dict | None = None, **hub_kwargs) -> tuple[torch.nn.Module, object]:
        """(model, tokenizer) from a local folder or hub id, the model in eval mode."""

    def num_layers(self, pooling: str | None = None) -> int:
        """How many layers the stack that ``pooling`` reads has (``layer`` counts in it)."""

    def prompt_end(self, settings: ReadSettings) -> list[int]:
        """Ids placed after the template's answer cue (masks, end token; none for a causal LM)."""

    def embed(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, settings: ReadSettings) -> torch.Tensor:
        """[B, H] one vector per padded prompt under ``settings.pooling``."""

    def generate(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, settings: ReadSettings) -> Generation:
        """The answer tokens with the states that predict them."""

    def training_example(self, prompt_for, answer: list[int]) -> tuple[list[int], list[int]]:
        """(input ids, labels) of one training example: ``prompt_for(reserve)`` builds the prompt ids leaving
        ``reserve`` tokens of room; ``answer`` is the answer's ids."""

    # Training (train/loop.py): the LoRA task type, and the answer tokens' logits and targets of a batch. Static:
    # training runs them on its own (LoRA-wrapped) model ``lm``.
    peft_task_type: ClassVar[str | None]

    @staticmethod
    def answer_targets(labels: torch.Tensor) -> torch.Tensor:
        """[B, T] labels aligned with the logits ``answer_logits`` reads (IGNORE elsewhere)."""

    @staticmethod
    def answer_logits(lm, inputs: dict, labels: torch.Tensor, answer: torch.Tensor) -> torch.Tensor:
        """[N, V] logits of the ``answer`` positions (``answer_targets(labels) != IGNORE``)."""


def pad_id(tokenizer) -> int:
    for candidate in (tokenizer.pad_token_id, tokenizer.eos_token_id, 0):
        if candidate is not None:
            return candidate
    return 0


def stop_ids(model, tokenizer) -> set[int]:
    """A row's answer ends at its first special token (EOS, chat end-of-turn, ...)."""
    generation_config = getattr(model, "generation_config", None)
    eos = generation_config.eos_token_id if generation_config else None
    eos = [eos] if isinstance(eos, int) else list(eos or [])
    return set(tokenizer.all_special_ids) | set(eos)
