"""Prompt ids equal ``tokenizer(whole prompt)`` for every tokenizer kind, truncated or not.

Tokenizers: the default's byte-level BPE (SmolLM2), and tiny ones built offline of each family's kind: Llama-2
style (Metaspace, BPE with byte fallback), T5 (Metaspace, Unigram), RoBERTa and OPT (byte-level BPE) and BERT
(WordPiece). The Llama and T5 ones give a separately tokenized piece a word-start marker, so concatenating
segment ids (the old way) differs from the whole string there.
"""

from __future__ import annotations

import numpy as np
import pytest

import inbedder_st
from inbedder_st.multi import common_prefix_length
from inbedder_st.prompt_ids import PromptTokenizer
from inbedder_st.templates import ALPACA, QA, fill
from tiny_models import BUILDERS, llama_tokenizer

TEXTS = [
    "I love cats.",
    "  leading and trailing spaces  ",
    "two\nlines\n",
    "Café à la crème, naïve 😀 — ok",
    "",
    "   ",
    "The customer is angry about the refund and wants the card delivered.",
]
INSTRUCTIONS = ["What animal is it?", "How does the customer feel?", "Why?"]
TEMPLATES = [QA, ALPACA, "Q: {instruction} T: {input} A:"]


@pytest.fixture(scope="module")
def tiny_folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny-prompt-ids")
    return {name: build(root / name) for name, build in BUILDERS.items()}


@pytest.fixture(scope="module")
def tokenizers(tiny_folders):
    from transformers import AutoTokenizer

    return {name: AutoTokenizer.from_pretrained(folder) for name, folder in tiny_folders.items()}


def whole(tokenizer, template: str, text: str, instruction: str) -> list[int]:
    return tokenizer(fill(template, text, instruction), add_special_tokens=False)["input_ids"]


def check_equals_whole_string(tokenizer, template: str) -> None:
    prompts = PromptTokenizer(tokenizer, template, max_length=512, trailing=[7])
    for instruction in INSTRUCTIONS:
        built = prompts.build(TEXTS, instruction)
        assert built.n_truncated == 0
        for text, ids in zip(TEXTS, built.ids):
            assert ids == prompts.leading + whole(tokenizer, template, text, instruction) + [7], (text, instruction)


@pytest.mark.parametrize("name", list(BUILDERS))
@pytest.mark.parametrize("template", TEMPLATES)
def test_ids_equal_the_whole_string_for_every_tiny_tokenizer(tokenizers, name, template):
    check_equals_whole_string(tokenizers[name], template)


@pytest.mark.parametrize("template", TEMPLATES)
def test_ids_equal_the_whole_string_for_the_default_tokenizer(default_model, template):
    check_equals_whole_string(default_model.tokenizer, template)


def test_the_llama_style_tokenizer_is_one_where_segments_differ():
    """Guards the test above: tokenized alone, a piece gets a word-start marker it lacks inside the prompt."""
    tokenizer = llama_tokenizer()
    text = "I love cats."
    alone = tokenizer(text, add_special_tokens=False)["input_ids"]
    inside = tokenizer("### Input:\n" + text, add_special_tokens=False)["input_ids"]
    assert inside[-len(alone) :] != alone
    assert tokenizer.convert_ids_to_tokens(alone)[0].startswith("\u2581")
    assert "<0xC3>" in tokenizer.convert_ids_to_tokens(tokenizer("é", add_special_tokens=False)["input_ids"])


@pytest.mark.parametrize("name", ["llama", "t5", "opt", "bert"])
def test_truncation_cuts_the_text_at_a_token_and_equals_the_whole_cut_string(tokenizers, name):
    tokenizer = tokenizers[name]
    long_text = " ".join(TEXTS) * 6
    for template in (QA, ALPACA):
        prompts = PromptTokenizer(tokenizer, template, max_length=60, trailing=[7, 7])
        for instruction in INSTRUCTIONS:
            built = prompts.build([long_text, "short"], instruction)
            assert built.n_truncated == 1
            ids = built.ids[0]
            assert len(ids) <= 60 and ids[-2:] == [7, 7]
            cuts = [k for k in range(len(long_text)) if ids == prompts.leading + whole(tokenizer, template, long_text[:k], instruction) + [7, 7]]
            assert cuts, (template, instruction)
            assert len(ids) >= 60 - 3  # cut as late as the budget allows
            assert built.ids[1] == prompts.leading + whole(tokenizer, template, "short", instruction) + [7, 7]


def test_an_instruction_that_leaves_no_room_is_a_clear_error(tokenizers):
    prompts = PromptTokenizer(tokenizers["llama"], QA, max_length=12)
    with pytest.raises(ValueError, match="leaving no room for the text within max_length=12"):
        prompts.build(["x"], "How does the customer feel about all of this today?")


@pytest.mark.parametrize("name", ["llama", "t5", "opt"])
def test_everything_before_the_instruction_is_shared_across_instructions(tokenizers, name):
    """What encode_multi reuses: under the QA template the prefix+text ids do not depend on the instruction."""
    tokenizer = tokenizers[name]
    prompts = PromptTokenizer(tokenizer, QA, max_length=512)
    for text in TEXTS:
        grid = [prompts.build([text], instruction).ids[0] for instruction in INSTRUCTIONS]
        before = prompts.leading + tokenizer("### Input:\n" + text, add_special_tokens=False)["input_ids"]
        assert common_prefix_length(grid) >= len(before) - 1, text  # the text's last token may merge onwards


@pytest.fixture(scope="module")
def tiny_llama(tiny_folders):
    return inbedder_st.load_model(str(tiny_folders["llama"]), device="cpu")


def test_encode_multi_equals_encode_on_a_llama_style_model(tiny_llama):
    grid = inbedder_st.encode_multi(tiny_llama, TEXTS, INSTRUCTIONS, batch_size=3)
    for row, instruction in zip(grid, INSTRUCTIONS):
        np.testing.assert_allclose(row, tiny_llama.encode(TEXTS, prompt=instruction), atol=1e-5)
    tiny_llama[0].max_length = 40  # texts cut differently per instruction
    try:
        long_texts = [t * 8 for t in TEXTS]
        grid = inbedder_st.encode_multi(tiny_llama, long_texts, INSTRUCTIONS, batch_size=4)
        for row, instruction in zip(grid, INSTRUCTIONS):
            np.testing.assert_allclose(row, tiny_llama.encode(long_texts, prompt=instruction), atol=1e-5)
    finally:
        tiny_llama[0].max_length = 512
