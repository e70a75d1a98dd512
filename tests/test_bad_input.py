"""Bad input: clear errors that name the item, or documented behaviour."""

import numpy as np
import pytest

import inbedder_st


@pytest.mark.parametrize(
    "texts, message",
    [
        (["fine", None], "Item 1 is NoneType"),
        (["fine", "also fine", 3], "Item 2 is int"),
        ([b"bytes"], "Item 0 is bytes"),
        (["a", ("pair", "of texts")], "Item 1 is tuple"),
    ],
)
def test_non_str_items_raise_type_error_naming_index_and_type(default_model, texts, message):
    with pytest.raises(TypeError, match=message):
        default_model.encode(texts, prompt="Why?")
    with pytest.raises(TypeError, match=message):
        inbedder_st.answer(default_model, texts, prompt="Why?")


def test_empty_list_gives_zero_rows_of_the_right_width(default_model):
    assert default_model.encode([], prompt="Why?").shape == (0, 576)
    assert tuple(default_model.encode([], convert_to_tensor=True).shape) == (0, 576)
    assert inbedder_st.answer(default_model, [], prompt="Why?") == []


def test_empty_and_whitespace_texts_get_valid_embeddings(default_model):
    emb = default_model.encode(["", " ", "\n\t"], prompt="Why?")
    assert emb.shape == (3, 576) and np.isfinite(emb).all() and (np.linalg.norm(emb, axis=1) > 0).all()


def test_a_single_string_gives_one_vector(default_model):
    assert default_model.encode("I love cat!", prompt="Why?").shape == (576,)


@pytest.mark.parametrize(
    "option, match",
    [
        ({"pooling": "mean"}, "Valid choices: \\['fst_gen', 'avg_gen', 'last_gen', 'avg_ppt', 'avg_all', 'answer_dist', 'answer_sparse'\\]"),
        ({"template": "vicuna"}, "Valid choices: \\['alpaca', 'chat', 'qa'\\]"),
        ({"layer": 99}, "Valid choices: integers from -31 to 30"),
    ],
)
def test_unknown_options_list_valid_choices(default_model, option, match):
    module = default_model[0]
    with pytest.raises(ValueError, match=match):
        type(module)(module.model, module.tokenizer, **option)
