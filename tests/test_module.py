"""Behaviour of the InBedder module on the real default model (SmolLM2-135M-Instruct)."""

import logging

import numpy as np
import pytest
import torch

from inbedder_st import answer
from inbedder_st.templates import fill

INSTRUCTION = "How does the customer feel?"


def cosines(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return (a * b).sum(-1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)


def mixed_batch(customer_texts):
    """16 texts of very different lengths, including an empty and a whitespace-only one."""
    texts = sorted(customer_texts, key=len)
    picks = [texts[0], texts[-1], texts[20], texts[4], texts[36], texts[12], texts[28], texts[1]]
    return picks + ["", "   ", "ok", picks[1] + " " + picks[2], "I love cat!", "Why?", picks[3].upper(), "a b c"]


def test_fst_gen_equals_a_bare_transformers_forward_pass(default_model, customer_texts):
    module = default_model[0]
    texts = customer_texts[:8]
    ours = default_model.encode(texts, prompt=INSTRUCTION)
    for text, vector in zip(texts, ours):
        ids = module.tokenizer(fill(module.template, text, INSTRUCTION), return_tensors="pt")
        with torch.no_grad():
            out = module.model(**ids, output_hidden_states=True)
        reference = out.hidden_states[-1][0, -1].numpy()
        assert cosines(vector, reference) >= 0.9999


@pytest.mark.parametrize("pooling", ["fst_gen", "avg_gen"])
def test_embeddings_do_not_depend_on_the_batch(fresh_default, customer_texts, pooling):
    fresh_default[0].pooling = pooling
    texts = mixed_batch(customer_texts)
    assert len(texts) == 16
    together = fresh_default.encode(texts, prompt=INSTRUCTION, batch_size=16)
    alone = np.stack([fresh_default.encode([t], prompt=INSTRUCTION)[0] for t in texts])
    assert np.isfinite(together).all()
    assert cosines(together, alone).min() >= 0.9999


def test_avg_gen_matches_the_papers_generate_path(fresh_default):
    """HF generate with hidden states, averaged with the paper's keep rule, for one unpadded text."""
    module = fresh_default[0]
    module.pooling, module.max_new_tokens = "avg_gen", 3
    text = "The delivery was late again and nobody answered my emails."
    ids = module.tokenizer(fill(module.template, text, INSTRUCTION), return_tensors="pt")
    out = module.model.generate(
        **ids, max_new_tokens=3, do_sample=False, output_hidden_states=True, return_dict_in_generate=True
    )
    generated = out.sequences[0, ids["input_ids"].shape[1] :].tolist()
    states = [out.hidden_states[0][-1][0, -1]] + [step[-1][0, -1] for step in out.hidden_states[1:]]
    special = set(module.tokenizer.all_special_ids)
    kept = [states[0]] + [states[t] for t in range(1, len(states)) if generated[t] not in special]
    reference = torch.stack(kept).mean(0).numpy()
    ours = fresh_default.encode([text], prompt=INSTRUCTION)[0]
    assert cosines(ours, reference) >= 0.9999
    assert answer(fresh_default, [text], prompt=INSTRUCTION)[0] == module.tokenizer.decode(
        generated, skip_special_tokens=True
    ).strip()


def test_different_instructions_give_different_embeddings_and_repeats_are_identical(default_model):
    texts = ["I love cat!", "I dislike cat!"]
    animal = default_model.encode(texts, prompt="What animal is mentioned?")
    feeling = default_model.encode(texts, prompt="What emotion is expressed?")
    assert cosines(animal, feeling).max() < 0.999
    np.testing.assert_array_equal(animal, default_model.encode(texts, prompt="What animal is mentioned?"))


def test_prompt_name_uses_the_saved_named_instruction(default_model):
    texts = ["Where is my card?"]
    by_name = default_model.encode(texts, prompt_name="emotion")
    np.testing.assert_array_equal(by_name, default_model.encode(texts, prompt=INSTRUCTION))


def test_no_instruction_uses_the_default_instruction_and_says_so_once(fresh_default, caplog):
    module = fresh_default[0]
    module._told_default_instruction = False
    with caplog.at_level(logging.WARNING, logger="inbedder_st.module"):
        first = fresh_default.encode(["Where is my card?"])
        fresh_default.encode(["Where is my card?"], prompt="   ")
    told = [r for r in caplog.records if "default instruction" in r.getMessage()]
    assert len(told) == 1
    np.testing.assert_array_equal(first, fresh_default.encode(["Where is my card?"], prompt=module.default_instruction))


@pytest.mark.parametrize("pooling", ["last_gen", "avg_ppt", "avg_all"])
def test_other_poolings_are_finite_and_differ_from_fst_gen(fresh_default, pooling):
    texts = ["I love cat!", "The refund never arrived."]
    need = "What does the customer need?"  # answered in several words, so the answer's last state is not the first
    fst = fresh_default.encode(texts, prompt=need)
    fresh_default[0].pooling = pooling
    other = fresh_default.encode(texts, prompt=need)
    assert np.isfinite(other).all() and cosines(fst, other).max() < 0.9999


def test_layers_count_from_the_end_and_bad_layers_list_the_range(fresh_default):
    module = fresh_default[0]
    last = fresh_default.encode(["hello"], prompt=INSTRUCTION)
    module.layer = module.num_layers
    np.testing.assert_allclose(fresh_default.encode(["hello"], prompt=INSTRUCTION), last, atol=1e-5)
    module.layer = -3
    middle = fresh_default.encode(["hello"], prompt=INSTRUCTION)
    assert cosines(middle, last)[0] < 0.99
    with pytest.raises(ValueError, match="from -31 to 30"):
        module.layer = 31  # refused when set; the model keeps working with the old value
    assert module.layer == -3


def test_truncation_cuts_only_the_text_and_logs_the_count(fresh_default, caplog):
    module = fresh_default[0]
    module.max_length = 40
    long_text = "word " * 200
    with caplog.at_level(logging.WARNING, logger="inbedder_st.module"):
        features = module.preprocess([long_text, "short"], prompt=INSTRUCTION)
    ids = features["input_ids"][0][features["attention_mask"][0].bool()].tolist()
    assert len(ids) == 40
    decoded = module.tokenizer.decode(ids)
    assert decoded.startswith("### Input:\nword word")
    assert decoded.endswith("\n\n### Instruction:\nHow does the customer feel?\n\n### Response:")
    assert any("1 of 2 texts" in r.getMessage() for r in caplog.records)


def test_instruction_too_long_for_max_length_is_a_clear_error(fresh_default):
    fresh_default[0].max_length = 10
    with pytest.raises(ValueError, match="leaving no room for the text"):
        fresh_default.encode(["x"], prompt=INSTRUCTION)


def test_filter_words_change_only_generation_poolings(fresh_default):
    module = fresh_default[0]
    module.max_new_tokens = 6
    text = ["This is ridiculous, my new card still hasn't been delivered."]  # answer: "card delivery"
    instruction = "What does the customer need?"
    fst = fresh_default.encode(text, prompt=instruction)
    module.pooling = "avg_gen"
    unfiltered = fresh_default.encode(text, prompt=instruction)
    # Filter the answer's second token: the state that predicts it must leave the average.
    features = module.preprocess(text, prompt=instruction)
    second = module.generate(**features).answer_ids[0, 1].item()
    assert second not in module.tokenizer.all_special_ids
    module.filter_words = [module.tokenizer.decode([second]).strip()]
    assert second in module.drop_ids
    assert not np.allclose(fresh_default.encode(text, prompt=instruction), unfiltered)
    module.pooling = "fst_gen"
    np.testing.assert_array_equal(fresh_default.encode(text, prompt=instruction), fst)


def test_stopword_filtering_uses_nltks_list_in_both_spellings(fresh_default, nltk_stopwords):
    module = fresh_default[0]
    module.filter_stopwords = True
    for form in ("the", " the", " Based"):
        assert module.tokenizer(form, add_special_tokens=False)["input_ids"][0] in module.drop_ids
    assert set(module.tokenizer.all_special_ids) <= module.drop_ids


def test_seeded_sampling_is_reproducible_and_batch_independent(fresh_default):
    module = fresh_default[0]
    module.do_sample, module.temperature, module.max_new_tokens = True, 1.5, 8
    texts = ["My card was stolen.", "I am so happy today!", "Why is the fee so high?"]
    first = answer(fresh_default, texts, prompt=INSTRUCTION)
    assert first == answer(fresh_default, texts, prompt=INSTRUCTION)
    assert [answer(fresh_default, [t], prompt=INSTRUCTION)[0] for t in texts] == first
    module.seed = 7
    assert answer(fresh_default, texts, prompt=INSTRUCTION) != first


def test_answers_come_back_in_input_order(default_model):
    texts = ["I love cat!", "", "My flight was cancelled and I want my money back now, this is unacceptable."]
    answers = answer(default_model, texts, prompt="What animal is mentioned?", batch_size=2)
    assert len(answers) == 3 and all(isinstance(a, str) for a in answers)
    assert answers[0] == answer(default_model, [texts[0]], prompt="What animal is mentioned?")[0]
    assert answers[2] == answer(default_model, [texts[2]], prompt="What animal is mentioned?")[0]


def test_similarity_and_normalisation_work_unchanged(default_model):
    emb = default_model.encode(["I love cat!", "I love dog!"], prompt=INSTRUCTION, normalize_embeddings=True)
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    sims = default_model.similarity(emb, emb)
    assert sims.shape == (2, 2) and abs(float(sims[0, 1]) - float(emb[0] @ emb[1])) < 1e-5



def test_the_embedding_does_not_hold_the_batchs_hidden_states(default_model, customer_texts):
    """sentence-transformers keeps each batch's rows until the end of encode: a view into the [batch, tokens, dim]
    states would keep them all alive (memory grew with the number of texts), so the module returns a copy."""
    features = default_model.preprocess(customer_texts[:8], prompt="How does the customer feel?")
    with torch.inference_mode():
        embedding = default_model[0](features)["sentence_embedding"]
    assert embedding.shape == (8, default_model.get_embedding_dimension())
    assert embedding.untyped_storage().nbytes() == embedding.numel() * 4
