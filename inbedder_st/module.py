"""InBedder: a sentence-transformers input module that embeds a text as the LM's answer to an instruction.

preprocess: texts + instruction (sentence-transformers' ``prompt``) -> prompt ids, segment-wise.
forward:    prompt ids -> hidden states at ``layer`` -> pooling (fst_gen needs one forward pass, no
            generation; avg_gen / last_gen / avg_all decode a short answer first).
save/load:  the backbone's weights (safetensors) and tokenizer beside ``inbedder_config.json``.
The family object (causal, masked, seq2seq; backbones/) decides how the prompt ends and how states are read;
the module hands it its settings for each call as a ``ReadSettings``.
"""

from __future__ import annotations

import logging
from typing import Any

import torch
from sentence_transformers.base.modules import InputModule

from inbedder_st import answer_space
from inbedder_st import options as checked
from inbedder_st.backbones import causal, family_class, load_family
from inbedder_st.backbones.family import AnswerSpaceSettings, Generation, GenerationSettings, ReadSettings
from inbedder_st.backbones.family import pad_id as family_pad_id
from inbedder_st.backbones.family import stop_ids as family_stop_ids
from inbedder_st.inputs import check_texts
from inbedder_st.options import POOLING_ALIASES, Option
from inbedder_st.pooling import NEEDS_GENERATION
from inbedder_st.prompt_ids import PromptTokenizer, pad
from inbedder_st.stopwords import ANSWER_OPENERS, english_stopwords, filter_token_ids
from inbedder_st.templates import resolve_template

logger = logging.getLogger(__name__)

DEFAULT_INSTRUCTION = "What is this text about?"


class InBedder(InputModule):
    config_file_name = "inbedder_config.json"  # config.json belongs to the backbone
    config_keys = [
        "backbone",
        "family",
        "template",
        "pooling",
        "layer",
        "max_length",
        "max_new_tokens",
        "do_sample",
        "temperature",
        "top_p",
        "seed",
        "filter_stopwords",
        "filter_words",
        "default_instruction",
        "mask_length",
        "lm_head_transform",
        "answer_temperature",
        "answer_top_k",
        "answer_drop",
        "answer_steps",
    ]
    save_in_root = True

    # Every setting is checked when assigned, in __init__ or later on model[0] (options.py): a bad value raises
    # and leaves the old one, a good one is in force for the next call.
    backbone = checked.text("backbone")
    family = Option(checked.family)
    template = Option(checked.template)
    pooling = Option(checked.pooling)
    layer = Option(checked.layer)
    max_length = checked.integer("max_length", minimum=1)
    max_new_tokens = checked.integer("max_new_tokens", minimum=1)
    do_sample = checked.flag("do_sample")
    temperature = checked.number("temperature", 0.0, float("inf"))
    top_p = checked.number("top_p", 0.0, 1.0)
    seed = checked.integer("seed")
    filter_stopwords = checked.flag("filter_stopwords")
    filter_words = Option(checked.words)
    default_instruction = checked.text("default_instruction", blank_ok=False)
    mask_length = checked.integer("mask_length", minimum=1)
    lm_head_transform = Option(checked.lm_head_transform)
    answer_temperature = checked.number("answer_temperature", 0.0, float("inf"))
    answer_top_k = checked.integer("answer_top_k", minimum=1)
    answer_drop = checked.choice("answer_drop", answer_space.DROP_CHOICES)
    answer_steps = checked.choice("answer_steps", answer_space.ANSWER_STEPS)

    def __init__(
        self,
        model,
        tokenizer,
        backbone: str = "",
        family: str = "causal",
        template: str = "qa",
        pooling: str | None = None,
        layer: int = -1,
        max_length: int = 512,
        max_new_tokens: int = 3,
        do_sample: bool = False,
        temperature: float = 0.6,
        top_p: float = 0.9,
        seed: int = 42,
        filter_stopwords: bool = False,
        filter_words: list[str] | None = None,
        default_instruction: str = DEFAULT_INSTRUCTION,
        mask_length: int = 3,
        lm_head_transform: bool = False,
        answer_temperature: float = 2.0,
        answer_top_k: int = 64,
        answer_drop: str = "punctuation",
        answer_steps: str = "first",
    ):
        super().__init__()
        family_class(family)  # validates
        self.model = model
        self.tokenizer = tokenizer
        self.backbone = backbone
        self.family = family
        self.template = resolve_template(template, tokenizer)
        pooling = pooling or self.family_impl.poolings[0]
        self.pooling = POOLING_ALIASES.get(pooling, pooling)
        self.layer = layer
        self.layer_index  # validates
        self.check_pooling()
        self.max_length = int(max_length)
        self.max_new_tokens = int(max_new_tokens)
        self.do_sample = bool(do_sample)
        self.temperature = float(temperature)
        self.top_p = float(top_p)
        self.seed = int(seed)
        self.filter_stopwords = bool(filter_stopwords)
        self.filter_words = list(filter_words or [])
        self.default_instruction = default_instruction
        self.mask_length = int(mask_length)
        if self.mask_length < 1:
            raise ValueError(f"mask_length must be >= 1, got {mask_length!r}.")
        self.lm_head_transform = bool(lm_head_transform)
        if self.lm_head_transform and (family != "masked" or self.pooling != "avg_gen"):
            raise ValueError("lm_head_transform applies to the masked family with pooling='avg_gen' only.")
        self.answer_temperature = answer_temperature
        self.answer_top_k = answer_top_k
        self.answer_drop = answer_drop
        self.answer_steps = answer_steps
        self._told_default_instruction = False
        self._cache: dict[tuple, Any] = {}
        self.prompt_tokenizer  # validates the template against the tokenizer

    # ----- configuration views -------------------------------------------------------------------
    @property
    def family_impl(self):
        """The family object (backbones/causal.py, masked.py or seq2seq.py) around this module's backbone; made
        again when the backbone or tokenizer is replaced (training swaps in the merged model)."""
        current = self.__dict__.get("_family")
        if current is None or current.model is not self.model or current.tokenizer is not self.tokenizer:
            current = family_class(self.family)(self.model, self.tokenizer)
            self.__dict__["_family"] = current
        return current

    def read_settings(self, generating: bool = False) -> ReadSettings:
        """This call's settings, as the family reads them. The filter words (NLTK's list with filter_stopwords) and
        the answer-space vocabulary mask are looked up only for the calls that use them."""
        answer_pooling = self.pooling in answer_space.ANSWER_POOLINGS
        answer_steps = answer_pooling and self.answer_steps == "answer"
        generating = generating or self.pooling in NEEDS_GENERATION or answer_steps
        space = AnswerSpaceSettings(
            temperature=self.answer_temperature, top_k=self.answer_top_k, steps=self.answer_steps
        )
        if answer_pooling:
            space.dropped = self.answer_dropped
        return ReadSettings(
            pooling=self.pooling, layer=self.layer_index, generation=self.generation_settings,
            drop_ids=self.drop_ids if generating else set(), mask_length=self.mask_length,
            lm_head_transform=self.lm_head_transform, answer_space=space,
        )  # fmt: skip

    def check_pooling(self) -> str:
        valid = self.family_impl.poolings
        if self.pooling not in valid:
            hint = (
                " The answer-space poolings need a causal LM's next-token distribution."
                if self.pooling in answer_space.ANSWER_POOLINGS
                else ""
            )
            raise ValueError(
                f"Unknown pooling {self.pooling!r} for the {self.family} family. Valid choices: {list(valid)}.{hint}"
            )
        if self.pooling in answer_space.ANSWER_POOLINGS and self.layer_index != self.num_layers:
            raise ValueError(
                f"Pooling {self.pooling!r} reads the LM head's next-token distribution, which comes from the last "
                f"layer; got layer={self.layer!r}. Use layer=-1."
            )
        return self.pooling

    @property
    def num_layers(self) -> int:
        return self.family_impl.num_layers(self.pooling)

    @property
    def layer_index(self) -> int:
        """``layer`` as an index into the hidden states (0 = embeddings, num_layers = last layer)."""
        n = self.num_layers
        if not isinstance(self.layer, int) or not -(n + 1) <= self.layer <= n:
            raise ValueError(f"Invalid layer {self.layer!r}. Valid choices: integers from {-(n + 1)} to {n}.")
        return self.layer % (n + 1)

    @property
    def prompt_tokenizer(self) -> PromptTokenizer:
        trailing = self.family_impl.prompt_end(self.read_settings())
        key = ("prompt_tokenizer", self.template, self.max_length, tuple(trailing))
        if key not in self._cache:
            self._cache[key] = PromptTokenizer(self.tokenizer, self.template, self.max_length, trailing)
        return self._cache[key]

    @property
    def max_seq_length(self) -> int:
        return self.max_length

    @max_seq_length.setter
    def max_seq_length(self, value: int) -> None:
        self.max_length = int(value)

    @property
    def generation_settings(self) -> GenerationSettings:
        return GenerationSettings(
            max_new_tokens=self.max_new_tokens,
            do_sample=self.do_sample,
            temperature=self.temperature,
            top_p=self.top_p,
            seed=self.seed,
        )

    @property
    def pad_id(self) -> int:
        return family_pad_id(self.tokenizer)

    @property
    def stop_ids(self) -> set[int]:
        """A row's answer ends at its first special token (EOS, chat end-of-turn, ...)."""
        return family_stop_ids(self.model, self.tokenizer)

    @property
    def drop_ids(self) -> set[int]:
        """Tokens whose predicting state is left out of the generation poolings."""
        words = list(self.filter_words)
        if self.filter_stopwords:
            words += list(english_stopwords()) + list(ANSWER_OPENERS)
        key = ("drop_ids", tuple(words))
        if key not in self._cache:
            self._cache[key] = filter_token_ids(self.tokenizer, words)
        return self._cache[key]

    @property
    def answer_dropped(self) -> torch.Tensor:
        """[vocab] bool: tokens left out of the answer distribution (answer_space.dropped_token_mask)."""
        return answer_space.dropped_token_mask(self.tokenizer, self.vocab_size, self.answer_drop)

    @property
    def vocab_size(self) -> int:
        """Width of the LM head (the answer_sparse dimension)."""
        return self.model.get_output_embeddings().weight.shape[0]

    def get_embedding_dimension(self) -> int:
        if self.pooling == "answer_sparse":
            return self.vocab_size
        return self.model.config.get_text_config().hidden_size

    # ----- the sentence-transformers module interface ------------------------------------------
    def instruction_for(self, prompt: str | None) -> str:
        if prompt is None or not prompt.strip():
            if not self._told_default_instruction:
                logger.warning(
                    "No instruction given (prompt/prompt_name); using the default instruction %r.",
                    self.default_instruction,
                )
                self._told_default_instruction = True
            return self.default_instruction
        return prompt

    def preprocess(self, inputs, prompt: str | None = None, **kwargs) -> dict[str, Any]:
        texts = check_texts(inputs)
        built = self.prompt_tokenizer.build(texts, self.instruction_for(prompt))
        if built.n_truncated:
            logger.warning(
                "%d of %d texts were longer than max_length=%d allows and were cut at their end "
                "(the instruction and answer cue are kept).",
                built.n_truncated,
                len(texts),
                self.max_length,
            )
        return pad(built.ids, self.pad_id, side=self.family_impl.padding_side)

    def forward(self, features: dict[str, torch.Tensor], **kwargs) -> dict[str, torch.Tensor]:
        self.check_pooling()
        embedding = self.family_impl.embed(features["input_ids"], features["attention_mask"], self.read_settings())
        # Always a copy (one, whatever the dtype): fst_gen's vector is a view of the batch's hidden states, and
        # sentence-transformers keeps each row, so a view would keep every batch's states alive.
        features["sentence_embedding"] = embedding.to(torch.float32, copy=True)
        return features

    def generate(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> Generation:
        """The answer tokens and states (masked LMs: the argmax at each mask, no decoding loop)."""
        return self.family_impl.generate(input_ids, attention_mask, self.read_settings(generating=True))

    def decode_answers(self, generation: Generation) -> list[str]:
        answers = []
        for ids, stopped in zip(generation.answer_ids.tolist(), generation.stopped.tolist()):
            kept = [i for i, done in zip(ids, stopped) if not done]
            answers.append(self.tokenizer.decode(kept, skip_special_tokens=True).strip())
        return answers

    def __getstate__(self):
        causal.drop_output_capturing_hooks(self.model)  # stays picklable for multi-process encoding
        return super().__getstate__()

    # ----- construction, save and load -----------------------------------------------------------
    @classmethod
    def from_backbone(
        cls, name_or_path: str, model_kwargs: dict | None = None, hub_kwargs: dict | None = None, **options
    ) -> InBedder:
        """Wrap any Hugging Face causal, masked or seq2seq LM (local folder or hub id).

        The family is detected from the backbone's config unless ``family`` is given; ``model_kwargs`` go to
        ``from_pretrained`` (``dtype``, ``attn_implementation``, ``device_map``, ``quantization_config``, ...).
        """
        family = options.pop("family", None)
        model, tokenizer, family = load_family(name_or_path, family, model_kwargs, **(hub_kwargs or {}))
        options.setdefault("backbone", name_or_path)
        return cls(model, tokenizer, family=family, **options)

    def save(self, output_path: str, *args, safe_serialization: bool = True, **kwargs) -> None:
        self.model.save_pretrained(output_path, safe_serialization=safe_serialization)
        self.tokenizer.save_pretrained(output_path)
        self.save_config(output_path)

    @classmethod
    def load(
        cls,
        model_name_or_path: str,
        subfolder: str = "",
        token: bool | str | None = None,
        cache_folder: str | None = None,
        revision: str | None = None,
        local_files_only: bool = False,
        model_kwargs: dict | None = None,
        **kwargs,
    ) -> InBedder:
        hub_kwargs = dict(
            subfolder=subfolder, token=token, cache_folder=cache_folder, revision=revision,
            local_files_only=local_files_only,
        )  # fmt: skip
        config = cls.load_config(model_name_or_path, **hub_kwargs)
        folder = cls.load_dir_path(model_name_or_path, **hub_kwargs)
        options = {k: v for k, v in config.items() if k in cls.config_keys}
        # All of model_kwargs reach from_pretrained (dtype, attn_implementation, device_map, quantization_config,
        # ...). ``trust_remote_code`` (in kwargs) is not passed on: the backbone is a native transformers model.
        model, tokenizer, options["family"] = load_family(folder, options.get("family", "causal"), model_kwargs)
        return cls(model, tokenizer, **options)

