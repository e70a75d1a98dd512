"""Masked LMs (RoBERTa, BERT): the answer is read at ``mask_length`` mask tokens appended to the prompt.

The prompt is ``[CLS/<s>] template-with-text-and-instruction <mask>×k [SEP/</s>]`` (reference section 2),
right-padded: the model has absolute positions counted from the left, so right padding leaves every
real token's position unchanged. One forward pass gives everything; there is no generation.

- avg_gen: mean of the states at the masks (the paper's roberta-large-InBedder setting);
- avg_ppt: mean over the prompt without the masks and the end token (the start token included);
- avg_all: mean over every real token;
- answers: the argmax token at each mask;
- ``lm_head_transform`` (the paper's UseCase notebook): mask states -> the LM head's dense + activation +
  layer norm -> mean over the masks -> standardised per vector.
"""

from __future__ import annotations

import torch

from inbedder_st.backbones.causal import Generation
from inbedder_st.prompt_ids import special_ids_around

PADDING_SIDE = "right"
POOLINGS = ("avg_gen", "avg_ppt", "avg_all")
DEFAULT_POOLING = "avg_gen"


def load(name_or_path: str, model_kwargs: dict | None = None, **hub_kwargs):
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(name_or_path, **hub_kwargs)
    if tokenizer.mask_token_id is None:
        raise ValueError(f"{name_or_path} has no mask token; a masked-LM InBedder needs one.")
    model = AutoModelForMaskedLM.from_pretrained(name_or_path, **(model_kwargs or {}), **hub_kwargs)
    return model.eval(), tokenizer


def num_layers(model, pooling: str | None = None) -> int:
    return model.config.num_hidden_layers


def trailing_ids(module) -> list[int]:
    return [module.tokenizer.mask_token_id] * module.mask_length + _end_ids(module.tokenizer)


def _end_ids(tokenizer) -> list[int]:
    return special_ids_around(tokenizer)[1]


def _mask_positions(module, attention_mask: torch.Tensor) -> torch.Tensor:
    """[B, k] column of each mask token, from each row's length (a literal "<mask>" in a text is not one)."""
    ends = attention_mask.sum(1, keepdim=True) - len(_end_ids(module.tokenizer))
    return ends - module.mask_length + torch.arange(module.mask_length, device=attention_mask.device)


def _forward(module, input_ids, attention_mask, with_logits: bool):
    """(states at the module's layer [B, L, H], the last layer's states, logits or None)."""
    if with_logits:
        out = module.model(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True)
        return out.hidden_states[module.layer_index], out.hidden_states[-1], out.logits
    out = module.model.base_model(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True)
    return out.hidden_states[module.layer_index], out.last_hidden_state, None


def _gather(states: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    return states.gather(1, positions.unsqueeze(-1).expand(-1, -1, states.shape[-1]))


def _masked_mean(states: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    keep = keep.to(states.dtype).unsqueeze(-1)
    return (states * keep).sum(1) / keep.sum(1).clamp(min=1)


def head_transform(model, states: torch.Tensor) -> torch.Tensor:
    """The LM head without its vocabulary projection (RoBERTa ``lm_head``, BERT ``cls.predictions``)."""
    head = getattr(model, "lm_head", None)
    if head is not None and hasattr(head, "dense") and hasattr(head, "layer_norm"):
        return head.layer_norm(torch.nn.functional.gelu(head.dense(states)))
    transform = getattr(getattr(getattr(model, "cls", None), "predictions", None), "transform", None)
    if transform is not None:
        return transform(states)
    raise ValueError(f"lm_head_transform: cannot find the LM-head transform of {type(model).__name__}.")


def _standardise(vectors: torch.Tensor) -> torch.Tensor:
    return (vectors - vectors.mean(-1, keepdim=True)) / vectors.std(-1, keepdim=True).clamp(min=1e-6)


@torch.inference_mode()
def answer_generation(module, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> Generation:
    """The argmax token at each mask, with the mask states as the answer states."""
    states, _, logits = _forward(module, input_ids, attention_mask, with_logits=True)
    positions = _mask_positions(module, attention_mask)
    answer_ids = logits.gather(1, positions.unsqueeze(-1).expand(-1, -1, logits.shape[-1])).argmax(-1)
    keep = torch.ones_like(answer_ids, dtype=torch.bool)
    return Generation(
        prompt_states=states, answer_states=_gather(states, positions), keep=keep, answer_ids=answer_ids,
        stopped=~keep,
    )  # fmt: skip


def embed(module, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    states, _, _ = _forward(module, input_ids, attention_mask, with_logits=False)
    positions = _mask_positions(module, attention_mask)
    if module.pooling == "avg_gen":
        at_masks = _gather(states, positions)
        if module.lm_head_transform:
            return _standardise(head_transform(module.model, at_masks).mean(1))
        return at_masks.mean(1)
    columns = torch.arange(input_ids.shape[1], device=input_ids.device)
    if module.pooling == "avg_ppt":
        return _masked_mean(states, columns[None, :] < positions[:, :1])
    return _masked_mean(states, attention_mask.bool())  # avg_all
