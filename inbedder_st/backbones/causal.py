"""Decoder-only (causal) LMs (Llama, SmolLM2, OPT, GPT-2): the answer is generated after the prompt.

Left padding keeps the last prompt token in the last column; position ids come from the attention mask,
so a prompt gets the same positions alone or in a batch (docs/design.md, "Padding never changes an embedding").
``CausalLM`` is the family class (backbones/family.py); the functions below it take the backbone itself, for
callers that drive it directly (``encode_multi``'s shared-prefix passes, ``speed.apply``).
"""

from __future__ import annotations

import zlib
from contextlib import contextmanager

import torch

from inbedder_st import answer_space
from inbedder_st import pooling as poolings
from inbedder_st.backbones.family import IGNORE, Generation, GenerationSettings, ReadSettings, pad_id, stop_ids

POOLINGS = poolings.POOLINGS + answer_space.ANSWER_POOLINGS
PADDING_SIDE = "left"


def num_layers(model) -> int:
    return model.config.get_text_config().num_hidden_layers


def drop_output_capturing_hooks(model) -> None:
    """Remove the forward hooks transformers installs when someone asks the backbone for ``output_hidden_states``.

    They are local closures, so a model that has them cannot be pickled (sentence-transformers' multi-process
    encoding pickles it). We never need them; transformers reinstalls them on the next call that does.
    """
    for module in model.modules():
        for key, hook in list(module._forward_hooks.items()):
            if getattr(hook, "__name__", "") == "output_capturing_hook":
                del module._forward_hooks[key]
        module.__dict__.pop("_output_capturing_hooks_installed", None)


def position_ids(attention_mask: torch.Tensor) -> torch.Tensor:
    return (attention_mask.long().cumsum(-1) - 1).clamp(min=0)


def _decoder_layers(model) -> torch.nn.ModuleList:
    """The backbone's list of decoder layers (Llama ``layers``, OPT ``decoder.layers``, GPT-2 ``h``, ...)."""
    n = num_layers(model)
    for module in model.base_model.modules():
        if isinstance(module, torch.nn.ModuleList) and len(module) == n:
            return module
    raise ValueError(f"Cannot find the {n} decoder layers of {type(model).__name__}.")


@contextmanager
def capture_layer(model, layer: int):
    """Record the states at hidden-state index ``layer`` during the forward passes inside the block.

    0 is the embedding output and i the output of decoder layer i; the last layer (after the final norm) is
    the base model's ``last_hidden_state`` and needs no hook. A temporary hook is used instead of
    ``output_hidden_states``: it keeps one layer instead of all, and it works in a model unpickled by a
    multi-process worker, where transformers' own output capturing is not registered.
    """
    box: dict[str, torch.Tensor] = {}
    if layer == num_layers(model):
        yield box
        return
    target = model.get_input_embeddings() if layer == 0 else _decoder_layers(model)[layer - 1]

    def keep(module, args, output):
        box["states"] = output[0] if isinstance(output, tuple) else output

    handle = target.register_forward_hook(keep)
    try:
        yield box
    finally:
        handle.remove()


def _base_forward(model, layer: int, **inputs):
    """One base-model forward: (states at ``layer``, last hidden state, cache)."""
    with capture_layer(model, layer) as box:
        out = model.base_model(**inputs)
    return box.get("states", out.last_hidden_state), out.last_hidden_state, out.cache


def prompt_states(model, input_ids: torch.Tensor, attention_mask: torch.Tensor, layer: int) -> torch.Tensor:
    """States of every prompt position at ``layer`` (0 = embeddings, num_layers = last), one forward pass.

    The base model is called directly: the LM head (a 49k-wide projection for SmolLM2) is not needed.
    """
    states, _, _ = _base_forward(
        model, layer, input_ids=input_ids, attention_mask=attention_mask,
        position_ids=position_ids(attention_mask), use_cache=False,
    )  # fmt: skip
    return states


def _row_generators(input_ids, attention_mask, seed: int) -> list[torch.Generator]:
    """One generator per prompt, seeded by the prompt itself, so sampling ignores batch composition."""
    generators = []
    for ids, mask in zip(input_ids.tolist(), attention_mask.tolist()):
        prompt = bytes(str([i for i, m in zip(ids, mask) if m]), "ascii")
        generators.append(torch.Generator().manual_seed(seed * 1_000_003 + zlib.crc32(prompt)))
    return generators


def _next_tokens(logits: torch.Tensor, settings: GenerationSettings, generators) -> torch.Tensor:
    if not settings.do_sample:
        return logits.argmax(-1)
    probs = torch.softmax(logits.float().cpu() / settings.temperature, dim=-1)
    sorted_probs, order = probs.sort(dim=-1, descending=True)
    outside = sorted_probs.cumsum(-1) - sorted_probs > settings.top_p  # keep the smallest nucleus >= top_p
    sorted_probs[outside] = 0
    picks = [torch.multinomial(p, 1, generator=g) for p, g in zip(sorted_probs, generators)]
    return order.gather(1, torch.stack(picks)).squeeze(1).to(logits.device)


@torch.inference_mode()
def generate(
    model,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    layer: int,
    settings: GenerationSettings,
    stop_ids: set[int],
    drop_ids: set[int],
    pad_id: int,
) -> Generation:
    """Greedy (or seeded-sampling) decoding with a KV cache, keeping the states at ``layer``.

    A row stops at its first token in ``stop_ids``; a state is kept when the token it predicts is not in
    ``drop_ids`` (special tokens and filter words) and its row had not stopped.
    """
    if settings.max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be >= 1, got {settings.max_new_tokens}.")
    device = input_ids.device
    stop = torch.tensor(sorted(stop_ids), device=device)
    drop = torch.tensor(sorted(drop_ids | stop_ids), device=device)
    generators = _row_generators(input_ids, attention_mask, settings.seed) if settings.do_sample else None

    lm_head = model.get_output_embeddings()
    positions = position_ids(attention_mask)
    states, last, cache = _base_forward(
        model, layer, input_ids=input_ids, attention_mask=attention_mask, position_ids=positions, use_cache=True
    )
    logits = lm_head(last[:, -1])  # only the last position needs next-token scores
    columns, tokens, stopped_flags = [states[:, -1]], [], []
    stopped = torch.zeros(input_ids.shape[0], dtype=torch.bool, device=device)
    mask, last_position = attention_mask, positions[:, -1:]
    for step in range(settings.max_new_tokens):
        token = _next_tokens(logits, settings, generators)
        token = torch.where(stopped, torch.full_like(token, pad_id), token)
        stopped_before = stopped.clone()
        stopped = stopped | torch.isin(token, stop)
        tokens.append(token)
        stopped_flags.append(stopped_before | torch.isin(token, stop))
        if step == settings.max_new_tokens - 1 or bool(stopped.all()):
            break
        mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=1)
        last_position = last_position + 1
        step_states, last, cache = _base_forward(
            model, layer, input_ids=token[:, None], attention_mask=mask, position_ids=last_position,
            cache=cache, use_cache=True,
        )  # fmt: skip
        logits = lm_head(last[:, -1])
        columns.append(step_states[:, -1])

    answer_ids = torch.stack(tokens, dim=1)  # column t is the token predicted by state column t
    stopped_at = torch.stack(stopped_flags, dim=1)
    keep = ~torch.isin(answer_ids, drop) & ~stopped_at
    keep[:, 0] = True  # the last prompt state is always part of avg_gen (the paper's h_0)
    return Generation(
        prompt_states=states,
        answer_states=torch.stack(columns, dim=1),
        keep=keep,
        answer_ids=answer_ids,
        stopped=stopped_at,
    )


def answer_readout(model, pooling: str, probs: torch.Tensor, top_k: int) -> torch.Tensor:
    """answer_dist / answer_sparse of an answer distribution."""
    return answer_space.readout(pooling, probs, model.get_output_embeddings().weight, top_k)


class CausalLM:
    """The causal family: ``[BOS] template`` left-padded; the answer is generated after the cue."""

    name = "causal"
    padding_side = PADDING_SIDE
    poolings = POOLINGS

    def __init__(self, model, tokenizer):
        self.model, self.tokenizer = model, tokenizer

    @staticmethod
    def load(name_or_path: str, model_kwargs: dict | None = None, **hub_kwargs):
        """Model and tokenizer from a local folder or hub id (weights via safetensors where available)."""
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(name_or_path, **hub_kwargs)
        model = AutoModelForCausalLM.from_pretrained(name_or_path, **(model_kwargs or {}), **hub_kwargs)
        return model.eval(), tokenizer

    def num_layers(self, pooling: str | None = None) -> int:
        return num_layers(self.model)

    def prompt_end(self, settings: ReadSettings) -> list[int]:
        """Nothing after the answer cue: the next token *is* the answer."""
        return []

    def generate(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, settings: ReadSettings) -> Generation:
        return generate(
            self.model, input_ids, attention_mask, layer=settings.layer, settings=settings.generation,
            stop_ids=stop_ids(self.model, self.tokenizer), drop_ids=settings.drop_ids, pad_id=pad_id(self.tokenizer),
        )  # fmt: skip

    def answer_probabilities(self, input_ids, attention_mask, settings: ReadSettings) -> torch.Tensor:
        """[B, V] answer distribution: the first answer step's (one forward pass), or the mean over the kept
        steps of the greedy answer (``answer_steps="answer"``, one short generation)."""
        lm_head = self.model.get_output_embeddings()
        space = settings.answer_space
        if space.steps == "first":
            last = prompt_states(self.model, input_ids, attention_mask, num_layers(self.model))[:, -1]
            return answer_space.answer_distribution(lm_head(last), space.dropped, space.temperature)
        generation = self.generate(input_ids, attention_mask, settings)  # states of the last layer (checked)
        step_logits = lm_head(generation.answer_states)
        step_probs = answer_space.answer_distribution(step_logits, space.dropped, space.temperature)
        return answer_space.mean_over_steps(step_probs, generation.keep)

    def embed(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, settings: ReadSettings) -> torch.Tensor:
        """One vector per prompt under the pooling; fst_gen and avg_ppt need no generation."""
        if settings.pooling in answer_space.ANSWER_POOLINGS:
            probs = self.answer_probabilities(input_ids, attention_mask, settings)
            return answer_readout(self.model, settings.pooling, probs, settings.answer_space.top_k)
        if settings.pooling in poolings.NEEDS_GENERATION:
            generation = self.generate(input_ids, attention_mask, settings)
            return poolings.pool(
                settings.pooling, generation.prompt_states, attention_mask, generation.answer_states, generation.keep
            )
        states = prompt_states(self.model, input_ids, attention_mask, settings.layer)
        return poolings.pool(settings.pooling, states, attention_mask)

    peft_task_type = "CAUSAL_LM"

    @staticmethod
    def answer_targets(labels: torch.Tensor) -> torch.Tensor:
        """Labels aligned with the positions that predict them: a decoder predicts the next token."""
        return labels[:, 1:]

    @staticmethod
    def answer_logits(lm, inputs: dict, labels: torch.Tensor, answer: torch.Tensor) -> torch.Tensor:
        """Only the answer positions go through the LM head: the model's own loss without a vocabulary-wide
        projection of every prompt position (a fifth of SmolLM2's compute)."""
        hidden = lm.base_model(**inputs).last_hidden_state
        return lm.get_output_embeddings()(hidden[:, :-1][answer])

    def training_example(self, prompt_for, answer: list[int]) -> tuple[list[int], list[int]]:
        """Prompt + answer + EOS, labels on the answer and EOS (no space between the cue and the answer, as in
        the paper's training strings)."""
        answer = answer + [self.tokenizer.eos_token_id]
        prompt = prompt_for(len(answer))
        return prompt + answer, [IGNORE] * len(prompt) + answer
