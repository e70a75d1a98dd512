"""Prompt ids: the whole filled-in template is tokenized as one string; a prompt that is too long loses the end
of its *text* only, cut at a token boundary found from the tokenizer's character offsets.

Why whole-string: tokenizing template parts, text and instruction apart and concatenating the ids equals
``tokenizer(whole prompt)`` for byte-level BPE (GPT-2, SmolLM2, OPT) but not for SentencePiece/Metaspace
tokenizers (Llama-2, T5, ...), which give every separately tokenized piece a word-start marker. The paper's
checkpoints were trained on whole-string ids, so that is what we build, for every tokenizer family
(docs/design.md, "Segment-wise tokenization").

Truncation (``max_length``) still cuts the text alone, never the instruction or the answer cue: the text is cut
at the latest start of one of its tokens (the tokenizer's character offsets say where each starts) that lets the
prompt fit. The result is always exactly ``tokenizer(template filled with the cut text)``.

Reusing a text's key/value cache across instructions (``encode_multi``) does not assume anything here: it
shares the longest common prefix of the real prompt ids, whatever the tokenizer merged.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from inbedder_st.templates import split_template


class NoRoomForText(ValueError):
    """The template and instruction alone fill max_length."""


@dataclass
class PromptIds:
    ids: list[list[int]]
    n_truncated: int


def special_ids_around(tokenizer) -> tuple[list[int], list[int]]:
    """The special ids the tokenizer puts before and after a text by default.

    E.g. Llama: ([BOS], []), RoBERTa: ([<s>], [</s>]), BERT: ([CLS], [SEP]), T5: ([], [</s>]).
    """
    plain = tokenizer("a", add_special_tokens=False)["input_ids"]
    full = tokenizer("a")["input_ids"]
    for start in range(len(full) - len(plain) + 1):
        if full[start : start + len(plain)] == plain:
            return list(full[:start]), list(full[start + len(plain) :])
    return [], []


class PromptTokenizer:
    """Builds prompt ids for (texts, instruction) under one template.

    A prompt is ``leading + tokenizer(filled template) + trailing``. ``leading`` are the tokenizer's own
    special ids before a text (BOS, CLS); ``trailing`` follow the template's last segment: nothing for a decoder
    (it must predict the answer right after the answer cue), the mask tokens and end token for a masked LM, the
    end token for T5's encoder.
    """

    def __init__(self, tokenizer, template: str, max_length: int, trailing: list[int] | None = None):
        if not getattr(tokenizer, "is_fast", False):
            raise TypeError(
                f"{type(tokenizer).__name__} is not a fast (Rust `tokenizers`) tokenizer; prompt truncation needs "
                "its character offsets. Load the backbone's tokenizer.json (AutoTokenizer does by default)."
            )
        self.tokenizer = tokenizer
        self.template = template
        self.segments = split_template(template)
        self.max_length = int(max_length)
        self.leading = special_ids_around(tokenizer)[0]
        self.trailing = list(trailing or [])

    def ids_of(self, text: str) -> list[int]:
        """``text`` tokenized on its own, without special tokens (an answer, an instruction to count)."""
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"]) if text else []

    def fill(self, text: str, instruction: str) -> tuple[str, int, int]:
        """The prompt string and where the text lies in it: (prompt, start, end)."""
        segments = self.segments
        if segments.input_first:
            start = len(segments.prefix)
            prompt = segments.prefix + text + segments.middle + instruction + segments.suffix
        else:
            start = len(segments.prefix) + len(instruction) + len(segments.middle)
            prompt = segments.prefix + instruction + segments.middle + text + segments.suffix
        return prompt, start, start + len(text)

    def limit(self, reserve: int = 0) -> int:
        """Tokens the filled template may take: max_length less the special ids and ``reserve``."""
        return self.max_length - len(self.leading) - len(self.trailing) - reserve

    def check_room(self, instruction: str, reserve: int = 0) -> None:
        """Raise when the template and instruction alone leave no token for the text."""
        fixed = len(self._encode([self.fill("", instruction)[0]])[0][0])
        taken = fixed + len(self.leading) + len(self.trailing) + reserve
        if taken >= self.max_length:
            raise NoRoomForText(
                f"The template and instruction alone take {taken} tokens, leaving no room for the text "
                f"within max_length={self.max_length}. Shorten the instruction or raise max_length."
            )

    def fits(self, text: str, instruction: str, reserve: int = 0) -> bool:
        """Whether the prompt of ``text`` needs no truncation with ``reserve`` tokens kept free."""
        return len(self._encode([self.fill(text, instruction)[0]])[0][0]) <= self.limit(reserve)

    def build(self, texts: list[str], instruction: str, reserve: int = 0) -> PromptIds:
        """Prompt ids for every text; ``reserve`` tokens are kept free after the prompt (a training answer)."""
        self.check_room(instruction, reserve)
        limit = self.limit(reserve)
        filled = [self.fill(text, instruction) for text in texts]
        encoded = self._encode([prompt for prompt, _, _ in filled]) if texts else []
        ids, n_truncated = [], 0
        for text, (prompt, start, end), (prompt_ids, offsets) in zip(texts, filled, encoded):
            if len(prompt_ids) > limit:
                prompt_ids = self._truncated(text, instruction, offsets, start, end, limit)
                n_truncated += 1
            ids.append(self.leading + prompt_ids + self.trailing)
        return PromptIds(ids=ids, n_truncated=n_truncated)

    def _truncated(self, text, instruction, offsets, start, end, limit) -> list[int]:
        """The ids of the prompt whose text is cut at the latest token start (in the uncut prompt) that fits.

        Binary search over the cut points: a handful of tokenizations for a text far over the limit. The empty
        text fits (``check_room``), so there always is one; every answer is a real whole-string tokenization.
        """
        cuts = sorted({s - start for s, _ in offsets if start <= s < end} | {0})
        best = self._encode([self.fill("", instruction)[0]])[0][0]
        low, high = 0, len(cuts) - 1
        while low < high:
            middle = (low + high + 1) // 2
            ids = self._encode([self.fill(text[: cuts[middle]], instruction)[0]])[0][0]
            if len(ids) <= limit:
                low, best = middle, ids
            else:
                high = middle - 1
        return best

    def _encode(self, prompts: list[str]) -> list[tuple[list[int], list[tuple[int, int]]]]:
        out = self.tokenizer(prompts, add_special_tokens=False, return_offsets_mapping=True)
        return [(list(ids), [tuple(o) for o in offsets]) for ids, offsets in zip(out["input_ids"], out["offset_mapping"])]


def pad(id_lists: list[list[int]], pad_id: int, side: str = "left") -> dict[str, torch.Tensor]:
    """Pad to a rectangle; left padding keeps every prompt's last token in the last column."""
    width = max((len(ids) for ids in id_lists), default=0)
    input_ids = torch.full((len(id_lists), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(id_lists), width), dtype=torch.long)
    for row, ids in enumerate(id_lists):
        if not ids:
            continue
        span = slice(width - len(ids), width) if side == "left" else slice(0, len(ids))
        input_ids[row, span] = torch.tensor(ids, dtype=torch.long)
        attention_mask[row, span] = 1
    return {"input_ids": input_ids, "attention_mask": attention_mask}
