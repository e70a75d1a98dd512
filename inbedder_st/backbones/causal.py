"""Decoder-only (causal) LMs: load, run a left-padded prompt batch, generate short answers with states.

Left padding keeps the last prompt token in the last column; position ids come from the attention mask,
so a prompt gets the same positions alone or in a batch (docs/design.md, "Padding never changes an embedding").
"""

from __future__ import annotations

import zlib
from contextlib import contextmanager
from dataclasses import dataclass

import torch

from inbedder_st import answer_space
from inbedder_st import pooling as poolings

PADDING_SIDE = "left"
POOLINGS = poolings.POOLINGS + answer_space.ANSWER_POOLINGS
DEFAULT_POOLING = "fst_gen"


@dataclass
class GenerationSettings:
    max_new_tokens: int = 3
    do_sample: bool = False
    temperature: float = 0.6
    top_p: float = 0.9
    seed: int = 42


@dataclass
class Generation:
    prompt_states: torch.Tensor  # [B, P, H] at the chosen layer
    answer_states: torch.Tensor  # [B, T, H]; column 0 = last prompt state
    keep: torch.Tensor  # [B, T] bool, the paper's keep rule
    answer_ids: torch.Tensor  # [B, T] generated tokens (pad after a row stopped)
    stopped: torch.Tensor  # [B, T] bool, True from a row's stop token on


def load(name_or_path: str, model_kwargs: dict | None = None, **hub_kwargs):
    """Model and tokenizer from a local folder or hub id (weights via safetensors where available)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(name_or_path, **hub_kwargs)
    model = AutoModelForCausalLM.from_pretrained(name_or_path, **(model_kwargs or {}), **hub_kwargs)
    return model.eval(), tokenizer


def num_layers(model, pooling: str | None = None) -> int:
    return model.config.get_text_config().num_hidden_layers


def trailing_ids(module) -> list[int]:
    """Nothing after the answer cue: the next token *is* the answer."""
    return []


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


def answer_generation(module, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> Generation:
    """``generate`` with an InBedder module's settings."""
    return generate(
        module.model, input_ids, attention_mask, layer=module.layer_index, settings=module.generation_settings,
        stop_ids=module.stop_ids, drop_ids=module.drop_ids, pad_id=module.pad_id,
    )  # fmt: skip


def answer_probabilities(module, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """[B, V] answer distribution: the first answer step's (one forward pass), or the mean over the kept
    steps of the greedy answer (``answer_steps="answer"``, one short generation)."""
    lm_head = module.model.get_output_embeddings()
    settings = dict(dropped=module.answer_dropped, temperature=module.answer_temperature)
    if module.answer_steps == "first":
        last = prompt_states(module.model, input_ids, attention_mask, num_layers(module.model))[:, -1]
        return answer_space.answer_distribution(lm_head(last), **settings)
    generation = answer_generation(module, input_ids, attention_mask)  # states of the last layer (checked)
    step_probs = answer_space.answer_distribution(lm_head(generation.answer_states), **settings)
    return answer_space.mean_over_steps(step_probs, generation.keep)


def answer_readout(module, probs: torch.Tensor) -> torch.Tensor:
    """answer_dist / answer_sparse of an answer distribution, with the module's settings."""
    embeddings = module.model.get_output_embeddings().weight
    return answer_space.readout(module.pooling, probs, embeddings, module.answer_top_k)


def embed(module, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """One vector per prompt under the module's pooling; fst_gen and avg_ppt need no generation."""
    if module.pooling in answer_space.ANSWER_POOLINGS:
        return answer_readout(module, answer_probabilities(module, input_ids, attention_mask))
    if module.pooling in poolings.NEEDS_GENERATION:
        generation = answer_generation(module, input_ids, attention_mask)
        return poolings.pool(
            module.pooling, generation.prompt_states, attention_mask, generation.answer_states, generation.keep
        )
    states = prompt_states(module.model, input_ids, attention_mask, module.layer_index)
    return poolings.pool(module.pooling, states, attention_mask)
