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
from inbedder_st.backbones.causal import _next_tokens, _row_generators
from inbedder_st.backbones.family import Generation, ReadSettings, pad_id, stop_ids
from inbedder_st.prompt_ids import special_ids_around


class Seq2SeqLM:
    """The seq2seq family: ``template </s>`` to the encoder, right-padded; the decoder generates the answer."""

    name = "seq2seq"
    padding_side = "right"
    poolings = ("fst_gen", "avg_gen", "last_gen", "avg_ppt")

    def __init__(self, model, tokenizer):
        self.model, self.tokenizer = model, tokenizer

    @staticmethod
    def load(name_or_path: str, model_kwargs: dict | None = None, **hub_kwargs):
        from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(name_or_path, **hub_kwargs)
        model = AutoModelForSeq2SeqLM.from_pretrained(name_or_path, **(model_kwargs or {}), **hub_kwargs)
        return model.eval(), tokenizer

    def num_layers(self, pooling: str | None = None) -> int:
        config = self.model.config
        if pooling == "avg_ppt":
            return getattr(config, "num_layers", None) or config.encoder_layers
        return getattr(config, "num_decoder_layers", None) or getattr(config, "decoder_layers", None) or config.num_layers

    def prompt_end(self, settings: ReadSettings) -> list[int]:
        return special_ids_around(self.tokenizer)[1]

    def _encode(self, input_ids, attention_mask):
        encoder = self.model.get_encoder()
        return encoder(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True)

    def _start_ids(self, batch: int, device) -> torch.Tensor:
        start = self.model.config.decoder_start_token_id
        if start is None:
            raise ValueError(f"{type(self.model).__name__} has no decoder_start_token_id in its config.")
        return torch.full((batch, 1), start, dtype=torch.long, device=device)

    def _decoder_step(self, encoded, attention_mask, decoder_ids, cache, layer: int):
        out = self.model(
            encoder_outputs=encoded, attention_mask=attention_mask, decoder_input_ids=decoder_ids,
            cache=cache, use_cache=True, output_hidden_states=True,
        )  # fmt: skip
        return out.decoder_hidden_states[layer][:, -1], out.logits[:, -1], out.cache

    @torch.inference_mode()
    def generate(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, settings: ReadSettings) -> Generation:
        """Greedy (or seeded-sampling) decoding; column t of the answer states predicts answer token t."""
        generation = settings.generation
        if generation.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {generation.max_new_tokens}.")
        device = input_ids.device
        stops = stop_ids(self.model, self.tokenizer)
        stop = torch.tensor(sorted(stops), device=device)
        drop = torch.tensor(sorted(settings.drop_ids | stops), device=device)
        generators = _row_generators(input_ids, attention_mask, generation.seed) if generation.do_sample else None
        encoded = self._encode(input_ids, attention_mask)
        pad = pad_id(self.tokenizer)

        token, cache = self._start_ids(input_ids.shape[0], device)[:, 0], None
        columns, tokens, stopped_flags = [], [], []
        stopped = torch.zeros(input_ids.shape[0], dtype=torch.bool, device=device)
        for _ in range(generation.max_new_tokens):
            state, logits, cache = self._decoder_step(encoded, attention_mask, token[:, None], cache, settings.layer)
            columns.append(state)
            token = _next_tokens(logits, generation, generators)
            token = torch.where(stopped, torch.full_like(token, pad), token)
            stopped_flags.append(stopped | torch.isin(token, stop))
            stopped = stopped_flags[-1]
            tokens.append(token)
            if bool(stopped.all()):
                break
        answer_ids, stopped_at = torch.stack(tokens, dim=1), torch.stack(stopped_flags, dim=1)
        keep = ~torch.isin(answer_ids, drop) & ~stopped_at
        keep[:, 0] = True
        layer = settings.layer
        return Generation(
            prompt_states=encoded.hidden_states[layer] if layer < len(encoded.hidden_states) else encoded.last_hidden_state,
            answer_states=torch.stack(columns, dim=1), keep=keep, answer_ids=answer_ids, stopped=stopped_at,
        )  # fmt: skip

    @torch.inference_mode()
    def embed(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, settings: ReadSettings) -> torch.Tensor:
        if settings.pooling == "avg_ppt":
            states = self._encode(input_ids, attention_mask).hidden_states[settings.layer]
            keep = attention_mask.to(states.dtype).unsqueeze(-1)
            return (states * keep).sum(1) / keep.sum(1)
        if settings.pooling == "fst_gen":
            encoded = self._encode(input_ids, attention_mask)
            start = self._start_ids(input_ids.shape[0], input_ids.device)
            return self._decoder_step(encoded, attention_mask, start, None, settings.layer)[0]
        generation = self.generate(input_ids, attention_mask, settings)
        if settings.pooling == "avg_gen":
            return poolings.avg_gen(generation.answer_states, generation.keep)
        return poolings.last_gen(generation.answer_states, generation.keep)

    peft_task_type = "SEQ_2_SEQ_LM"

    @staticmethod
    def answer_targets(labels: torch.Tensor) -> torch.Tensor:
        return labels

    @staticmethod
    def answer_logits(lm, inputs: dict, labels: torch.Tensor, answer: torch.Tensor) -> torch.Tensor:
        """The decoder's logits for the answer (the model shifts the labels into decoder inputs)."""
        return lm(**inputs, labels=labels).logits[answer]

    def training_example(self, prompt_for, answer: list[int]) -> tuple[list[int], list[int]]:
        """Prompt + end token to the encoder; labels = answer + EOS for the decoder."""
        end = special_ids_around(self.tokenizer)[1]
        prompt = prompt_for(len(end))
        return prompt + end, answer + [self.tokenizer.eos_token_id]
