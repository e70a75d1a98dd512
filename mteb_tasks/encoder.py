"""The mteb encoder that hands a task's instruction to a SentenceTransformer as ``encode(prompt=...)``.

mteb resolves the instruction itself (``AbsEncoder.get_instruction``: a ``prompts_dict`` entry for the task
name or type if given, else the task's ``metadata.prompt``); this wrapper only decides what the model sees:

- ``"prompt"`` (InBedder models): the instruction verbatim as the sentence-transformers prompt; the InBedder
  module puts it in its QA template.
- ``"prepend"`` (plain sentence-transformers baselines): ``"<instruction> "`` is prepended to every text
  (sentence-transformers' own prompt mechanism). Results are filed as the experiment ``instructions=prepend``.
- ``"ignore"`` (the default for plain baselines, like the paper's e5 runs): no prompt at all.

With an ``EmbeddingCache`` (``cache=``), embeddings are read from disk when stored. A task whose texts are also
asked other instructions by sibling tasks (a robustness variant: ``instruction_family``) tells the encoder so
through ``prefetching(encoder, family)`` while it is evaluated; the encoder then embeds the texts under every
instruction of the family at once (``encode_multi``: each text's prefix is computed once) and the siblings read
theirs back from the cache.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np
from mteb.models import ModelMeta, SentenceTransformerEncoderWrapper
from mteb.models.abs_encoder import AbsEncoder

from inbedder_st.cache import EmbeddingCache
from inbedder_st.module import InBedder

if TYPE_CHECKING:
    from mteb.abstasks.task_metadata import TaskMetadata
    from mteb.types import PromptType
    from sentence_transformers import SentenceTransformer

INSTRUCTION_MODES = ("prompt", "prepend", "ignore")
PREPEND_SEPARATOR = " "


def is_inbedder(model: Any) -> bool:
    try:
        return isinstance(model[0], InBedder)
    except (TypeError, IndexError, KeyError):
        return False


class InstructionEncoder(AbsEncoder):
    """``mteb.evaluate(InstructionEncoder(model), tasks)``: the task instruction reaches ``model.encode``."""

    def __init__(
        self,
        model: SentenceTransformer,
        instruction_mode: str | None = None,
        *,
        meta: ModelMeta | None = None,
        prompts_dict: dict[str, str] | None = None,
        cache: EmbeddingCache | None = None,
    ):
        inbedder = is_inbedder(model)
        mode = instruction_mode or ("prompt" if inbedder else "ignore")
        if mode not in INSTRUCTION_MODES:
            raise ValueError(f"Unknown instruction_mode {mode!r}. Valid choices: {list(INSTRUCTION_MODES)}.")
        if inbedder and mode == "prepend":
            raise ValueError("An InBedder takes the instruction as its prompt; 'prepend' is for plain baselines.")
        self.model = model
        self.instruction_mode = mode
        self.prompts_dict = prompts_dict
        self.cache = cache
        self.instruction_family: tuple[str, ...] = ()  # set by prefetching() while a task runs
        meta = meta or ModelMeta.from_sentence_transformer_model(model, fill_missing=None)
        if mode == "prepend":  # a different experiment: keep its results apart from the plain run
            meta = meta.model_copy(
                update={"experiment_kwargs": {**(meta.experiment_kwargs or {}), "instructions": mode}}
            )
        self.mteb_model_meta = meta

    def prompt_for(self, task_metadata: TaskMetadata, prompt_type: PromptType | None = None) -> str | None:
        if self.instruction_mode == "ignore":
            return None
        instruction = self.get_instruction(task_metadata, prompt_type)
        return instruction if self.instruction_mode == "prompt" else instruction + PREPEND_SEPARATOR

    def encode(self, inputs, *, task_metadata, hf_split, hf_subset, prompt_type=None, **kwargs) -> np.ndarray:
        texts = [text for batch in inputs for text in batch["text"]]
        kwargs.pop("convert_to_numpy", None)
        prompt = self.prompt_for(task_metadata, prompt_type)
        if is_sparse_encoder(self.model):  # mteb's evaluators take dense arrays: the sparse vectors, densified
            embeddings = self.model.encode(texts, prompt=prompt, convert_to_sparse_tensor=False, **kwargs)
            return embeddings.float().cpu().numpy()
        if self.cache is None:
            embeddings = self.model.encode(texts, prompt=prompt, convert_to_numpy=True, **kwargs)
            return np.asarray(embeddings, dtype=np.float32)
        if self.instruction_mode == "prompt" and prompt in self.instruction_family:
            options = {k: kwargs[k] for k in ("batch_size", "show_progress_bar") if k in kwargs}
            self.cache.warm_multi(self.model, texts, self.instruction_family, **options)
        return self.cache.encode(self.model, texts, prompt=prompt, **kwargs)


@contextmanager
def prefetching(encoder: Any, family: Sequence[str]) -> Iterator[None]:
    """While the block runs, an encoder that prefetches (``InstructionEncoder``) knows that the texts it encodes are
    also asked ``family``'s instructions; any other encoder is left alone."""
    if not family or not isinstance(encoder, InstructionEncoder):
        yield
        return
    previous, encoder.instruction_family = encoder.instruction_family, tuple(family)
    try:
        yield
    finally:
        encoder.instruction_family = previous


def is_sparse_encoder(model: Any) -> bool:
    from sentence_transformers import SparseEncoder

    return isinstance(model, SparseEncoder)


def instruction_aware(model: Any) -> Any:
    """An InBedder that reached a task through mteb's generic sentence-transformers wrapper (which knows only
    ``model.prompts`` by task name) is re-wrapped so that it gets the task's instruction; anything else is
    returned unchanged (a plain baseline then ignores the instruction)."""
    if isinstance(model, SentenceTransformerEncoderWrapper) and is_inbedder(model.model):
        return InstructionEncoder(model.model, meta=model.mteb_model_meta)
    if is_inbedder(model) and not isinstance(model, AbsEncoder):
        return InstructionEncoder(model)
    return model
