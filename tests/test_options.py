"""Inputs and options as in sentence-transformers: arrays and tuples of texts, model_kwargs, settings on model[0]."""

from __future__ import annotations

import numpy as np
import pytest
from sentence_transformers import SentenceTransformer

import inbedder_st
from inbedder_st.cache import EmbeddingCache
from inbedder_st.templates import ALPACA, QA, fill
from tiny_models import build_llama

TEXTS = ["I love cat!", "Where is my refund?", "My card never came."]
INSTRUCTION = "How does the customer feel?"


@pytest.mark.parametrize("container", [tuple, np.array, lambda t: np.array(t, dtype=object)], ids=["tuple", "array", "object-array"])
def test_arrays_and_tuples_of_texts_are_accepted_everywhere(default_model, tmp_path, container):
    expected = default_model.encode(TEXTS, prompt=INSTRUCTION)
    texts = container(TEXTS)
    np.testing.assert_allclose(default_model.encode(texts, prompt=INSTRUCTION), expected, rtol=1e-4, atol=1e-5)
    assert inbedder_st.answer(default_model, texts, prompt=INSTRUCTION) == inbedder_st.answer(default_model, TEXTS, prompt=INSTRUCTION)
    np.testing.assert_allclose(inbedder_st.encode_multi(default_model, texts, [INSTRUCTION])[0], expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(EmbeddingCache(tmp_path).encode(default_model, texts, prompt=INSTRUCTION), expected, rtol=1e-4, atol=1e-5)


def test_bad_containers_still_name_the_problem(default_model):
    with pytest.raises(TypeError, match="Item 1 is NoneType"):
        default_model.encode(np.array(["a", None], dtype=object), prompt=INSTRUCTION)
    with pytest.raises(TypeError, match="1-D"):
        default_model.encode(np.array([["a", "b"]]), prompt=INSTRUCTION)
    with pytest.raises(TypeError, match="got dict"):
        inbedder_st.answer(default_model, {"a": 1}, prompt=INSTRUCTION)


def test_a_template_set_after_loading_is_resolved_at_once(fresh_default):
    module = fresh_default[0]
    module.template = "alpaca"  # the README's example of changing an option on model[0]
    assert module.template == ALPACA
    ids = module.preprocess(["I love cat!"], prompt=INSTRUCTION)["input_ids"][0].tolist()
    assert ids == module.tokenizer(fill(ALPACA, "I love cat!", INSTRUCTION))["input_ids"]
    module.template = "{instruction} -> {input} =>"
    assert module.get_config_dict()["template"] == "{instruction} -> {input} =>"


@pytest.mark.parametrize(
    "name, value, error, match",
    [
        ("template", "vicuna", ValueError, r"Valid choices: \['alpaca', 'chat', 'qa'\]"),
        ("pooling", "mean", ValueError, "Unknown pooling 'mean' for the causal family"),
        ("layer", 99, ValueError, "from -31 to 30"),
        ("layer", 1.5, TypeError, "layer must be an integer"),
        ("max_length", 0, ValueError, "max_length must be >= 1"),
        ("max_new_tokens", "3", TypeError, "max_new_tokens must be an integer"),
        ("do_sample", "yes", TypeError, "do_sample must be True or False"),
        ("temperature", 0, ValueError, "temperature must be in"),
        ("top_p", 1.5, ValueError, "top_p must be in"),
        ("filter_words", ["ok", 3], TypeError, "filter_words item 1 is int"),
        ("default_instruction", "  ", TypeError, "non-blank string"),
        ("family", "masked", ValueError, "fixed by the loaded backbone"),
        ("lm_head_transform", True, ValueError, "masked family"),
        ("mask_length", 0, ValueError, "mask_length must be >= 1"),
    ],
)
def test_a_bad_setting_raises_when_set_and_keeps_the_old_value(fresh_default, name, value, error, match):
    module = fresh_default[0]
    before = getattr(module, name)
    with pytest.raises(error, match=match):
        setattr(module, name, value)
    assert getattr(module, name) == before
    assert fresh_default.encode(["hello"], prompt=INSTRUCTION).shape == (1, 576)


def test_settings_changed_after_loading_take_effect(fresh_default):
    module = fresh_default[0]
    before = fresh_default.encode(TEXTS, prompt=INSTRUCTION)
    module.max_length = 24
    assert all(len(ids) <= 24 for ids in module.prompt_tokenizer.build(["word " * 50], INSTRUCTION).ids)
    module.max_length = 512
    module.pooling = "first_gen"  # the seq2seq alias is accepted and stored under its real name
    assert module.pooling == "fst_gen"
    module.layer = -2
    assert np.abs(fresh_default.encode(TEXTS, prompt=INSTRUCTION) - before).max() > 1e-3


@pytest.fixture(scope="module")
def llama_folder(tmp_path_factory):
    return build_llama(tmp_path_factory.mktemp("llama") / "llama")


def test_model_kwargs_reach_from_pretrained(llama_folder, tmp_path, monkeypatch):
    plain = inbedder_st.load_model(str(llama_folder), device="cpu")
    assert plain[0].model.config._attn_implementation == "sdpa"
    eager = inbedder_st.load_model(str(llama_folder), model_kwargs={"attn_implementation": "eager"}, device="cpu")
    assert eager[0].model.config._attn_implementation == "eager"
    np.testing.assert_allclose(eager.encode(TEXTS, prompt=INSTRUCTION), plain.encode(TEXTS, prompt=INSTRUCTION), atol=1e-5)
    import transformers

    seen, real = [], transformers.AutoModelForCausalLM.from_pretrained.__func__

    def spy(cls, *args, **kwargs):
        seen.append(kwargs)
        return real(cls, *args, **kwargs)

    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", classmethod(spy))
    mapped = inbedder_st.load_model(str(llama_folder), model_kwargs={"device_map": "cpu", "low_cpu_mem_usage": True})
    assert seen[-1]["device_map"] == "cpu" and seen[-1]["low_cpu_mem_usage"] is True
    assert mapped.encode(TEXTS, prompt=INSTRUCTION).shape == (3, 32)
    monkeypatch.undo()
    with pytest.raises(TypeError, match="disagree"):
        inbedder_st.load_model(str(llama_folder), dtype="float32", model_kwargs={"dtype": "bfloat16"})

    # A saved InBedder: through load_model and through plain sentence-transformers.
    plain.save(str(tmp_path))
    for reloaded in (
        inbedder_st.load_model(str(tmp_path), model_kwargs={"attn_implementation": "eager"}, device="cpu"),
        SentenceTransformer(str(tmp_path), trust_remote_code=True, model_kwargs={"attn_implementation": "eager"}),
    ):
        assert reloaded[0].model.config._attn_implementation == "eager"
    half = inbedder_st.load_model(str(tmp_path), model_kwargs={"torch_dtype": "bfloat16"}, device="cpu")
    assert str(half[0].model.dtype) == "torch.bfloat16"
