"""Encoder-decoder LMs (T5, BART): the prompt goes to the encoder, the decoder generates the answer.

Prompts are right-padded (the encoder's attention mask hides the pads; T5's relative positions do not
move) and end with the tokenizer's end token. Unlike the reference code, truncation cuts the input text
only, never the instruction (prompt_ids.py).

- avg_ppt: mean of the encoder states over the prompt (no generation);
- fst_gen (alias first_gen): the decoder state that predicts the first answer token (one decoder step);
- avg_gen / last_gen: mean / last of the decoder states kept by the paper's rule while generating (a
  state is kept when the token it predicts is neither special nor filtered; the first one always is).
``layer`` indexes the encoder's hidden states for avg_ppt and the decoder's for the others.
"""

from __future__ import annotations

import torch

from inbedder_st import pooling as poolings
from inbedder_st.backbones.causal import Generation, _next_tokens, _row_generators
from inbedder_st.prompt_ids import special_ids_around

PADDING_SIDE = "right"
POOLINGS = ("fst_gen", "avg_gen", "last_gen", "avg_ppt")
DEFAULT_POOLING = "fst_gen"


def load(name_or_path: str, model_kwargs: dict | None = None, **hub_kwargs):
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(name_or_path, **hub_kwargs)
    model = AutoModelForSeq2SeqLM.from_pretrained(name_or_path, **(model_kwargs or {}), **hub_kwargs)
    return model.eval(), tokenizer


def num_layers(model, pooling: str | None = None) -> int:
    config = model.config
    if pooling == "avg_ppt":
        return getattr(config, "num_layers", None) or config.encoder_layers
    return getattr(config, "num_decoder_layers", None) or getattr(config, "decoder_layers", None) or config.num_layers


def trailing_ids(module) -> list[int]:
    return special_ids_around(module.tokenizer)[1]


def _encode(module, input_ids, attention_mask):
    encoder = module.model.get_encoder()
    return encoder(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True)


def _start_ids(module, batch: int, device) -> torch.Tensor:
    start = module.model.config.decoder_start_token_id
    if start is None:
        raise ValueError(f"{type(module.model).__name__} has no decoder_start_token_id in its config.")
    return torch.full((batch, 1), start, dtype=torch.long, device=device)


def _decoder_step(module, encoded, attention_mask, decoder_ids, cache):
    out = module.model(
        encoder_outputs=encoded, attention_mask=attention_mask, decoder_input_ids=decoder_ids,
        cache=cache, use_cache=True, output_hidden_states=True,
    )  # fmt: skip
    return out.decoder_hidden_states[module.layer_index][:, -1], out.logits[:, -1], out.cache


@torch.inference_mode()
def answer_generation(module, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> Generation:
    """Greedy (or seeded-sampling) decoding; column t of the answer states predicts answer token t."""
    settings = module.generation_settings
    if settings.max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be >= 1, got {settings.max_new_tokens}.")
    device = input_ids.device
    stop = torch.tensor(sorted(module.stop_ids), device=device)
    drop = torch.tensor(sorted(module.drop_ids | module.stop_ids), device=device)
    generators = _row_generators(input_ids, attention_mask, settings.seed) if settings.do_sample else None
    encoded = _encode(module, input_ids, attention_mask)

    token, cache = _start_ids(module, input_ids.shape[0], device)[:, 0], None
    columns, tokens, stopped_flags = [], [], []
    stopped = torch.zeros(input_ids.shape[0], dtype=torch.bool, device=device)
    for _ in range(settings.max_new_tokens):
        state, logits, cache = _decoder_step(module, encoded, attention_mask, token[:, None], cache)
        columns.append(state)
        token = _next_tokens(logits, settings, generators)
        token = torch.where(stopped, torch.full_like(token, module.pad_id), token)
        stopped_flags.append(stopped | torch.isin(token, stop))
        stopped = stopped_flags[-1]
        tokens.append(token)
        if bool(stopped.all()):
            break
    answer_ids, stopped_at = torch.stack(tokens, dim=1), torch.stack(stopped_flags, dim=1)
    keep = ~torch.isin(answer_ids, drop) & ~stopped_at
    keep[:, 0] = True
    layer = module.layer_index
    return Generation(
        prompt_states=encoded.hidden_states[layer] if layer < len(encoded.hidden_states) else encoded.last_hidden_state,
        answer_states=torch.stack(columns, dim=1), keep=keep, answer_ids=answer_ids, stopped=stopped_at,
    )  # fmt: skip


@torch.inference_mode()
def embed(module, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    if module.pooling == "avg_ppt":
        states = _encode(module, input_ids, attention_mask).hidden_states[module.layer_index]
        keep = attention_mask.to(states.dtype).unsqueeze(-1)
        return (states * keep).sum(1) / keep.sum(1)
    if module.pooling == "fst_gen":
        encoded = _encode(module, input_ids, attention_mask)
        start = _start_ids(module, input_ids.shape[0], input_ids.device)
        return _decoder_step(module, encoded, attention_mask, start, None)[0]
    generation = answer_generation(module, input_ids, attention_mask)
    if module.pooling == "avg_gen":
        return poolings.avg_gen(generation.answer_states, generation.keep)
    return poolings.last_gen(generation.answer_states, generation.keep)
