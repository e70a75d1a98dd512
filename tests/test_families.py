"""Masked-LM and seq2seq InBedders (and OPT and Llama as more causal families) on tiny random models.

The models are built offline (tests/tiny_models.py) and go through the public loading path. Their outputs
mean nothing; these tests check mechanics against plain transformers calls, not quality.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from sentence_transformers import SentenceTransformer

import inbedder_st
from inbedder_st.templates import QA, fill
from inbedder_st.train.loop import TrainConfig, train
from inbedder_st.train.records import QARecord
from tiny_models import BUILDERS, as_hub_cache

FAMILY_OF = {"roberta": "masked", "bert": "masked", "t5": "seq2seq", "opt": "causal", "llama": "causal"}
POOLINGS_OF = {
    "masked": ["avg_gen", "avg_ppt", "avg_all"],
    "seq2seq": ["fst_gen", "avg_gen", "last_gen", "avg_ppt"],
    "causal": ["fst_gen", "avg_gen", "last_gen", "avg_ppt", "avg_all"],
}
TEXTS = [
    "I love cats.",
    "The customer is angry about the refund and wants the card delivered today, not next week.",
    "dogs",
    "What is this text about? Where did the news happen? I dislike cats and dogs and the refund.",
]
INSTRUCTION = "What animal is it?"


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    return {name: build(root / name) for name, build in BUILDERS.items()}


@pytest.fixture(scope="module")
def tiny(folders):
    return {name: inbedder_st.load_model(str(folder), device="cpu") for name, folder in folders.items()}


@pytest.fixture
def model(request, tiny):
    """The tiny model ``request.param``, with its module settings restored afterwards."""
    loaded = tiny[request.param]
    module = loaded[0]
    saved = {key: getattr(module, key) for key in module.config_keys}
    yield loaded
    for key, value in saved.items():
        setattr(module, key, value)


ALL = pytest.mark.parametrize("model", list(BUILDERS), indirect=True)


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(-1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)


@ALL
def test_family_is_detected_from_the_config(model):
    name = Path(model[0].backbone).name  # the tiny models' folders are named after their builder
    assert model[0].family == FAMILY_OF[name]
    assert model[0].pooling == {"masked": "avg_gen", "seq2seq": "fst_gen", "causal": "fst_gen"}[model[0].family]


@ALL
def test_every_pooling_is_batch_invariant(model):
    for pooling in POOLINGS_OF[model[0].family]:
        model[0].pooling = pooling
        together = model.encode(TEXTS, prompt=INSTRUCTION, batch_size=len(TEXTS))
        alone = np.stack([model.encode([text], prompt=INSTRUCTION)[0] for text in TEXTS])
        assert cosines(together, alone).min() >= 0.9999, pooling


@ALL
def test_save_and_reload_through_sentence_transformers(model, tmp_path):
    model[0].pooling = POOLINGS_OF[model[0].family][-1]
    model.save(str(tmp_path))
    config = json.loads((tmp_path / "inbedder_config.json").read_text())
    assert config["family"] == model[0].family and config["pooling"] == model[0].pooling
    assert list(tmp_path.glob("*.safetensors")) and not list(tmp_path.glob("*.bin"))
    reloaded = SentenceTransformer(str(tmp_path), device="cpu", trust_remote_code=True)
    assert reloaded[0].family == model[0].family
    np.testing.assert_allclose(
        reloaded.encode(TEXTS, prompt=INSTRUCTION), model.encode(TEXTS, prompt=INSTRUCTION), atol=1e-5
    )


@ALL
def test_truncation_cuts_the_text_and_keeps_the_instruction(model):
    module = model[0]
    module.max_length = 48
    text = " ".join(TEXTS * 10)
    ids = module.preprocess([text], prompt=INSTRUCTION)["input_ids"][0].tolist()
    assert 46 <= len(ids) <= 48  # the latest cut that fits: one more token of the text may add two (a space)
    tokenizer = module.tokenizer
    leading = module.prompt_tokenizer.leading
    trailing = module.family_impl.prompt_end(module.read_settings())
    # Exactly the whole-string ids of the template filled with a prefix of the text (cut at a token start).
    cuts = [k for k in range(len(text)) if ids == leading + whole_ids(tokenizer, text[:k]) + trailing]
    assert cuts and 0 < cuts[-1] < len(text)
    decoded = "".join(tokenizer.decode(ids, skip_special_tokens=True).lower().split())
    assert "ilovecats" in decoded and decoded.endswith("whatanimalisit?###response:")  # the text's start, the question


def whole_ids(tokenizer, text: str, instruction: str = INSTRUCTION) -> list[int]:
    return tokenizer(fill(QA, text, instruction), add_special_tokens=False)["input_ids"]


@ALL
def test_answers_come_back_in_order(model):
    answers = inbedder_st.answer(model, TEXTS, prompt=INSTRUCTION, batch_size=3)
    alone = [inbedder_st.answer(model, [text], prompt=INSTRUCTION)[0] for text in TEXTS]
    assert answers == alone and all(isinstance(a, str) for a in answers)
    features = model[0].preprocess(TEXTS[:2], prompt=INSTRUCTION)
    generation = model[0].generate(**features)
    if model[0].family == "masked":
        assert generation.answer_ids.shape == (2, model[0].mask_length)
    else:
        assert generation.answer_ids.shape[1] <= model[0].max_new_tokens


@ALL
@pytest.mark.parametrize("texts, message", [(["fine", None], "Item 1 is NoneType"), ([3], "Item 0 is int")])
def test_bad_inputs_name_the_item(model, texts, message):
    with pytest.raises(TypeError, match=message):
        model.encode(texts, prompt=INSTRUCTION)
    with pytest.raises(TypeError, match=message):
        inbedder_st.answer(model, texts, prompt=INSTRUCTION)
    assert model.encode([], prompt=INSTRUCTION).shape == (0, 32)


@pytest.mark.parametrize("model", ["roberta", "bert"], indirect=True)
def test_masked_matches_a_plain_forward_pass(model):
    """avg_gen = mean of the last-layer states at the masks of ``prompt + <mask>*k``; answers = argmax there."""
    module, tokenizer = model[0], model[0].tokenizer
    for text in TEXTS:
        plain = tokenizer(fill(QA, text, INSTRUCTION) + tokenizer.mask_token * 3, return_tensors="pt")
        assert module.preprocess([text], prompt=INSTRUCTION)["input_ids"].tolist() == plain["input_ids"].tolist()
        with torch.no_grad():
            out = module.model(**plain, output_hidden_states=True)
        at_masks = plain["input_ids"][0] == tokenizer.mask_token_id
        expected = out.hidden_states[-1][0, at_masks].mean(0).numpy()
        np.testing.assert_allclose(model.encode([text], prompt=INSTRUCTION)[0], expected, atol=1e-5)
        answer = tokenizer.decode(out.logits[0, at_masks].argmax(-1), skip_special_tokens=True).strip()
        assert inbedder_st.answer(model, [text], prompt=INSTRUCTION) == [answer]


@pytest.mark.parametrize("model", ["t5"], indirect=True)
def test_seq2seq_matches_plain_transformers(model):
    module, tokenizer, lm = model[0], model[0].tokenizer, model[0].model
    text = TEXTS[1]
    plain = tokenizer(fill(QA, text, INSTRUCTION), return_tensors="pt")
    assert module.preprocess([text], prompt=INSTRUCTION)["input_ids"].tolist() == plain["input_ids"].tolist()
    start = torch.tensor([[lm.config.decoder_start_token_id]])
    with torch.no_grad():
        out = lm(**plain, decoder_input_ids=start, output_hidden_states=True)
        generated = lm.generate(**plain, max_new_tokens=module.max_new_tokens, do_sample=False)
    module.pooling = "avg_ppt"
    np.testing.assert_allclose(model.encode([text], prompt=INSTRUCTION)[0], out.encoder_last_hidden_state[0].mean(0), atol=1e-5)
    module.pooling = "fst_gen"
    np.testing.assert_allclose(model.encode([text], prompt=INSTRUCTION)[0], out.decoder_hidden_states[-1][0, 0], atol=1e-5)
    expected = tokenizer.decode(generated[0], skip_special_tokens=True).strip()
    assert inbedder_st.answer(model, [text], prompt=INSTRUCTION) == [expected]


def test_pooling_and_options_are_checked_per_family(folders):
    with pytest.raises(ValueError, match=r"pooling 'fst_gen' for the masked family.*avg_gen"):
        inbedder_st.load_model(str(folders["roberta"]), pooling="fst_gen")
    with pytest.raises(ValueError, match="pooling 'avg_all' for the seq2seq family"):
        inbedder_st.load_model(str(folders["t5"]), pooling="avg_all")
    with pytest.raises(ValueError, match="lm_head_transform applies to the masked family"):
        inbedder_st.load_model(str(folders["opt"]), lm_head_transform=True)
    assert inbedder_st.load_model(str(folders["t5"]), pooling="first_gen")[0].pooling == "fst_gen"


@pytest.mark.parametrize(
    "repo_id, build, expected",
    [
        ("BrandonZYW/roberta-large-InBedder", "roberta", {"family": "masked", "pooling": "avg_gen", "mask_length": 3}),
        ("BrandonZYW/opt-1.3b-InBedder", "opt", {"family": "causal", "pooling": "fst_gen", "max_new_tokens": 20}),
        ("BrandonZYW/llama-2-7b-InBedder", "llama", {"family": "causal", "do_sample": True, "max_new_tokens": 3}),
    ],
)
def test_paper_checkpoints_load_from_the_hub_cache_with_their_settings(folders, tmp_path, repo_id, build, expected):
    cache = as_hub_cache(folders[build], repo_id, tmp_path / "hub")
    loaded = inbedder_st.load_model(repo_id, cache_folder=str(cache), local_files_only=True, device="cpu")
    module = loaded[0]
    assert {key: getattr(module, key) for key in expected} == expected
    assert module.template == QA and module.layer == -1 and module.backbone == repo_id
    assert loaded.encode(TEXTS, prompt=INSTRUCTION).shape == (len(TEXTS), 32)
    override = inbedder_st.load_model(repo_id, cache_folder=str(cache), local_files_only=True, pooling="avg_ppt")
    assert override[0].pooling == "avg_ppt"  # the caller's options win over the paper's


def test_usecase_variant_standardises_the_lm_head_transform(folders, tmp_path):
    repo_id = "KomeijiForce/inbedder-roberta-large"
    cache = as_hub_cache(folders["roberta"], repo_id, tmp_path / "hub")
    loaded = inbedder_st.load_model(repo_id, cache_folder=str(cache), local_files_only=True, device="cpu")
    module, tokenizer = loaded[0], loaded[0].tokenizer
    assert module.lm_head_transform
    # The notebook's input: tokenizer(text, instruction + "<mask>"*3), a text pair.
    plain = tokenizer(TEXTS[0], INSTRUCTION + tokenizer.mask_token * 3, return_tensors="pt")
    assert module.preprocess([TEXTS[0]], prompt=INSTRUCTION)["input_ids"].tolist() == plain["input_ids"].tolist()
    with torch.no_grad():
        states = module.model.roberta(**plain).last_hidden_state[0, plain["input_ids"][0] == tokenizer.mask_token_id]
        head = module.model.lm_head
        vector = head.layer_norm(torch.nn.functional.gelu(head.dense(states))).mean(0)
    expected = ((vector - vector.mean()) / vector.std()).numpy()
    np.testing.assert_allclose(loaded.encode([TEXTS[0]], prompt=INSTRUCTION)[0], expected, atol=1e-4)


RECORDS = [
    QARecord(input="I love my cat.", instruction="What animal is it?", output="cat"),
    QARecord(input="The dog barks at night.", instruction="What animal is it?", output="dog"),
    QARecord(input="The customer wants a refund.", instruction="What does the customer need?", output="refund"),
    QARecord(input="My card has not arrived.", instruction="What does the customer need?", output="card delivery"),
]


@pytest.mark.parametrize(
    "name, lora", [("roberta", False), ("bert", True), ("t5", True), ("opt", True), ("llama", False)]
)
def test_training_lowers_the_answer_loss(folders, tmp_path, name, lora):
    loaded = inbedder_st.load_model(str(folders[name]), device="cpu")
    config = TrainConfig(
        output_dir=str(tmp_path), max_steps=12, batch_size=4, grad_accum=1, learning_rate=3e-2 if lora else 3e-3,
        lora=lora, lora_r=4, eval_size=4, eval_steps=100, save_steps=100, seed=0, bucket=False,
    )  # fmt: skip  (plain seeded batches: bucketing 12 records by length leaves LoRA on tiny OPT below the bar)
    result = train(loaded[0], RECORDS * 3, config, show_progress_bar=False)  # the eval records are also trained on
    # Random tiny models start near uniform logits (loss ~ log(vocab)); 12 steps of full fine-tuning move it
    # by about 0.4, LoRA (zero-initialised B, tiny random weights) by 0.05 to 0.5.
    assert result.eval_loss_after < result.eval_loss_before - (0.03 if lora else 0.2)
    if lora:
        assert config.lora_targets and "decoder" not in config.lora_targets and "lm_head" not in config.lora_targets
    assert loaded.encode(TEXTS, prompt=INSTRUCTION).shape == (len(TEXTS), 32)


def test_a_missing_local_folder_is_named_not_sent_to_the_hub(tmp_path):
    with pytest.raises(FileNotFoundError, match="No such model folder: .*absent"):
        inbedder_st.load_model(str(tmp_path / "absent"))
