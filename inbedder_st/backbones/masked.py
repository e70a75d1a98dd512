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

from inbedder_st.backbones.family import IGNORE, Generation, ReadSettings
from inbedder_st.prompt_ids import special_ids_around


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


class MaskedLM:
    """The masked family: ``<s> template <mask>×mask_length </s>`` right-padded; one forward pass, no decoding."""

    name = "masked"
    padding_side = "right"
    poolings = ("avg_gen", "avg_ppt", "avg_all")

    def __init__(self, model, tokenizer):
        self.model, self.tokenizer = model, tokenizer

    @staticmethod
    def load(name_or_path: str, model_kwargs: dict | None = None, **hub_kwargs):
        from transformers import AutoModelForMaskedLM, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(name_or_path, **hub_kwargs)
        if tokenizer.mask_token_id is None:
            raise ValueError(f"{name_or_path} has no mask token; a masked-LM InBedder needs one.")
        model = AutoModelForMaskedLM.from_pretrained(name_or_path, **(model_kwargs or {}), **hub_kwargs)
        return model.eval(), tokenizer

    def num_layers(self, pooling: str | None = None) -> int:
        return self.model.config.num_hidden_layers

    def _end_ids(self) -> list[int]:
        return special_ids_around(self.tokenizer)[1]

    def prompt_end(self, settings: ReadSettings) -> list[int]:
        return [self.tokenizer.mask_token_id] * settings.mask_length + self._end_ids()

    def _mask_positions(self, attention_mask: torch.Tensor, mask_length: int) -> torch.Tensor:
        """[B, k] column of each mask token, from each row's length (a literal "<mask>" in a text is not one)."""
        ends = attention_mask.sum(1, keepdim=True) - len(self._end_ids())
        return ends - mask_length + torch.arange(mask_length, device=attention_mask.device)

    def _forward(self, input_ids, attention_mask, layer: int, with_logits: bool):
        """(states at ``layer`` [B, L, H], the last layer's states, logits or None)."""
        if with_logits:
            out = self.model(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True)
            return out.hidden_states[layer], out.hidden_states[-1], out.logits
        out = self.model.base_model(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True)
        return out.hidden_states[layer], out.last_hidden_state, None

    @torch.inference_mode()
    def generate(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, settings: ReadSettings) -> Generation:
        """The argmax token at each mask, with the mask states as the answer states."""
        states, _, logits = self._forward(input_ids, attention_mask, settings.layer, with_logits=True)
        positions = self._mask_positions(attention_mask, settings.mask_length)
        answer_ids = logits.gather(1, positions.unsqueeze(-1).expand(-1, -1, logits.shape[-1])).argmax(-1)
        keep = torch.ones_like(answer_ids, dtype=torch.bool)
        return Generation(
            prompt_states=states, answer_states=_gather(states, positions), keep=keep, answer_ids=answer_ids,
            stopped=~keep,
        )  # fmt: skip

    def embed(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, settings: ReadSettings) -> torch.Tensor:
        states, _, _ = self._forward(input_ids, attention_mask, settings.layer, with_logits=False)
        positions = self._mask_positions(attention_mask, settings.mask_length)
        if settings.pooling == "avg_gen":
            at_masks = _gather(states, positions)
            if settings.lm_head_transform:
                return _standardise(head_transform(self.model, at_masks).mean(1))
            return at_masks.mean(1)
        columns = torch.arange(input_ids.shape[1], device=input_ids.device)
        if settings.pooling == "avg_ppt":
            return _masked_mean(states, columns[None, :] < positions[:, :1])
        return _masked_mean(states, attention_mask.bool())  # avg_all

    peft_task_type = None  # peft has no masked-LM task type; plain LoRA on the linear layers

    @staticmethod
    def answer_targets(labels: torch.Tensor) -> torch.Tensor:
        return labels

    @staticmethod
    def answer_logits(lm, inputs: dict, labels: torch.Tensor, answer: torch.Tensor) -> torch.Tensor:
        """The logits at the mask tokens."""
        return lm(**inputs).logits[answer]

    def training_example(self, prompt_for, answer: list[int]) -> tuple[list[int], list[int]]:
        """Prompt + one mask per answer token + end token, labels at the masks (the paper's recipe)."""
        answer = answer or [self.tokenizer.unk_token_id]  # an empty answer still needs one mask to train
        end = self._end_ids()
        after = [self.tokenizer.mask_token_id] * len(answer) + end
        prompt = prompt_for(len(after))
        return prompt + after, [IGNORE] * len(prompt) + answer + [IGNORE] * len(end)
