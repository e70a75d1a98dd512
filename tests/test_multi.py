"""encode_multi: many instructions over one corpus equal separate encode calls, with far fewer tokens computed."""

import numpy as np
import pytest

from inbedder_st import encode_multi
from inbedder_st.multi import common_prefix_length
from inbedder_st.templates import ALPACA

PROMPTS = ["How does the customer feel?", "What does the customer need?", "Is a card mentioned?"]


def cosines(a, b):
    return (a * b).sum(-1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)


def separate(model, texts, prompts, **kwargs):
    return np.stack([model.encode(texts, prompt=p, batch_size=4, **kwargs) for p in prompts])


LONG = (
    "I ordered a replacement card three weeks ago because the old one stopped working at every shop, and the app "
    "said it was shipped the next day. Since then nothing has arrived, the tracking page shows the same status, "
    "and each time I call I wait forty minutes before someone tells me to wait another week. I travel on Monday "
    "and need a working card before then, so please tell me what you can do today."
)


@pytest.fixture(scope="module")
def texts():
    short = ["I'm furious, you charged me twice!", "Thanks, my refund arrived.", "My new card never came.",
             "How do I change my PIN?", "Lovely app, but the exchange rate looked wrong to me.", "Why?",
             "The transfer to my sister is still pending after two days and I am getting worried."]  # fmt: skip
    return short + ["", "ok", LONG]  # an empty, a tiny and a long text in the same batches


class TokenCounter:
    """Counts the tokens the backbone runs (each forward's input length times batch)."""

    def __init__(self, model):
        self.tokens = 0
        self.handle = model[0].model.base_model.register_forward_pre_hook(self.count, with_kwargs=True)

    def count(self, module, args, kwargs):
        self.tokens += kwargs["input_ids"].numel()

    def close(self):
        self.handle.remove()


def test_equals_one_encode_per_instruction_and_runs_far_fewer_tokens(default_model, texts):
    counter = TokenCounter(default_model)
    try:
        multi = encode_multi(default_model, texts, PROMPTS, batch_size=4)
        multi_tokens, counter.tokens = counter.tokens, 0
        reference = separate(default_model, texts, PROMPTS)
        separate_tokens = counter.tokens
    finally:
        counter.close()
    assert multi.shape == (len(PROMPTS), len(texts), 576) and multi.dtype == np.float32
    assert cosines(multi, reference).min() >= 0.9999
    # Each text's prefix once instead of three times; the padded counts still differ by well over 1.5x.
    assert multi_tokens < separate_tokens / 1.5


def test_does_not_depend_on_batch_size_and_repeated_prompts_are_computed_once(default_model, texts):
    one = encode_multi(default_model, texts, PROMPTS[:2], batch_size=1)
    many = encode_multi(default_model, texts, [PROMPTS[0], PROMPTS[1], PROMPTS[0]], batch_size=32)
    assert cosines(one, many[:2]).min() >= 0.9999
    np.testing.assert_array_equal(many[0], many[2])


def test_texts_cut_differently_per_instruction_stay_exact(fresh_default, texts):
    """The text budget depends on the instruction's length, so the shared prefix must stop where they differ."""
    fresh_default[0].max_length = 32
    prompts = ["Why?", "What does the customer need, in a few words?"]
    multi = encode_multi(fresh_default, texts, prompts, batch_size=3)
    assert cosines(multi, separate(fresh_default, texts, prompts)).min() >= 0.9999


def test_another_layer_and_normalized_output(fresh_default, texts):
    fresh_default[0].layer = 12
    multi = encode_multi(fresh_default, texts, PROMPTS[:2], normalize_embeddings=True)
    reference = separate(fresh_default, texts, PROMPTS[:2], normalize_embeddings=True)
    assert cosines(multi, reference).min() >= 0.9999
    np.testing.assert_allclose(np.linalg.norm(multi, axis=-1), 1.0, atol=1e-5)


@pytest.mark.parametrize("reuse", ["instruction", "auto"])
def test_instruction_first_template(fresh_default, texts, reuse):
    fresh_default[0].template = ALPACA
    multi = encode_multi(fresh_default, texts, PROMPTS[:2], batch_size=4, reuse=reuse)
    assert cosines(multi, separate(fresh_default, texts, PROMPTS[:2])).min() >= 0.9999


def test_none_means_the_default_instruction(default_model):
    multi = encode_multi(default_model, ["I love cat!", "Where is my card?"], [None, "Why?"])
    reference = default_model.encode(["I love cat!", "Where is my card?"], prompt="What is this text about?")
    assert cosines(multi[0], reference).min() >= 0.9999


def test_none_follows_the_models_default_prompt_name(default_model):
    """Issue 15: encode_multi used the module's default instruction where model.encode uses default_prompt_name."""
    texts = ["I love cat!", "Where is my card?"]
    default_model.default_prompt_name = "intent"
    try:
        multi = encode_multi(default_model, texts, [None, "Why?"])
        reference = default_model.encode(texts)
    finally:
        default_model.default_prompt_name = None
    assert cosines(multi[0], reference).min() >= 0.9999
    assert cosines(multi[0], default_model.encode(texts, prompt_name="intent")).min() >= 0.9999


def test_truncate_dim_cuts_like_encode(default_model):
    multi = encode_multi(default_model, ["I love cat!"], ["Why?"], truncate_dim=16)
    assert multi.shape == (1, 1, 16)
    np.testing.assert_allclose(multi[0], default_model.encode(["I love cat!"], prompt="Why?", truncate_dim=16), atol=1e-4)


def test_rejects_what_it_cannot_compute(fresh_default, tmp_path):
    from tiny_models import build_roberta

    import inbedder_st

    fresh_default[0].pooling = "avg_gen"
    with pytest.raises(ValueError, match="pooling is 'avg_gen'"):
        encode_multi(fresh_default, ["a"], PROMPTS)
    masked = inbedder_st.load_model(str(build_roberta(tmp_path / "roberta")), device="cpu")
    with pytest.raises(ValueError, match="family is 'masked'"):
        encode_multi(masked, ["a"], PROMPTS)


def test_bad_input(default_model):
    with pytest.raises(TypeError, match="Prompt 1 is int"):
        encode_multi(default_model, ["a"], ["Why?", 3])
    with pytest.raises(TypeError, match="Item 1 is NoneType"):
        encode_multi(default_model, ["a", None], ["Why?"])
    with pytest.raises(ValueError, match="at least one instruction"):
        encode_multi(default_model, ["a"], [])
    with pytest.raises(TypeError, match="list of instructions"):
        encode_multi(default_model, ["a"], "Why?")
    with pytest.raises(ValueError, match="Unknown reuse"):
        encode_multi(default_model, ["a"], ["Why?"], reuse="both")
    with pytest.raises(TypeError, match="first module is InBedder"):
        encode_multi(object(), ["a"], ["Why?"])
    assert encode_multi(default_model, [], PROMPTS).shape == (3, 0, 576)


def test_common_prefix_leaves_a_token_to_compute():
    assert common_prefix_length([[1, 2, 3, 4], [1, 2, 5]]) == 2
    assert common_prefix_length([[1, 2, 3], [1, 2, 3]]) == 2
    assert common_prefix_length([[7], [7]]) == 0
