"""The shipped default: SmolLM2-135M-Instruct with the package's QA fine-tuning merged in."""

import json

import numpy as np
import pytest

import inbedder_st
from inbedder_st import default

ANIMALS_AND_FEELINGS = ["I love cat!", "I love dog!", "I dislike cat!"]


def similarities(model, instruction):
    emb = model.encode(ANIMALS_AND_FEELINGS, prompt=instruction, normalize_embeddings=True)
    return float(emb[0] @ emb[1]), float(emb[0] @ emb[2])  # (same feeling, same animal)


def test_the_default_is_the_fine_tuned_model_with_a_small_shipped_adapter(default_model):
    assert default_model[0].backbone == default.FINE_TUNED_NAME
    adapter = default.ADAPTER_DIR / "adapter_model.safetensors"
    assert adapter.stat().st_size < 10_000_000
    recipe = json.loads((default.ADAPTER_DIR / "training_recipe.json").read_text())
    assert recipe["result"]["eval_loss_after"] < recipe["result"]["eval_loss_before"]


def test_fine_tuning_changed_the_weights(default_model):
    zero_shot = inbedder_st.load_model(fine_tuned=False, device="cpu")
    a = default_model.encode(ANIMALS_AND_FEELINGS, prompt="What animal is mentioned?")
    b = zero_shot.encode(ANIMALS_AND_FEELINGS, prompt="What animal is mentioned?")
    assert not np.allclose(a, b, atol=1e-3)


def test_the_papers_sanity_check_follows_the_instruction(default_model):
    same_feeling, same_animal = similarities(default_model, "What animal is mentioned?")
    assert same_animal > same_feeling
    same_feeling, same_animal = similarities(default_model, "What emotion is expressed?")
    assert same_feeling > same_animal


def test_answers_are_short_and_name_the_asked_aspect(default_model):
    answers = inbedder_st.answer(default_model, ["I love cat!", "I love dog!"], prompt="What animal is mentioned?")
    assert [a.lower() for a in answers] == ["cat", "dog"]
    feelings = inbedder_st.answer(default_model, ANIMALS_AND_FEELINGS, prompt="How does the writer feel?")
    assert [a.lower() for a in feelings] == ["joy", "joy", "anger"]


@pytest.mark.xfail(strict=True, reason="known regression of the shipped default (README, Limits): it answers 'dog' for "
                   "'I dislike cat!' under the animal question; the previous default and the run without the "
                   "contrastive term answer 'cat'")
def test_a_disliked_cat_is_still_a_cat(default_model):
    answers = inbedder_st.answer(default_model, ["I dislike cat!"], prompt="What animal is mentioned?")
    assert answers == ["cat"]


def test_the_readme_demo_follows_both_instructions(default_model):
    from inbedder_st.demo import run_demo

    verdicts = run_demo(default_model, print_fn=lambda *_: None)
    assert verdicts == {"How does the customer feel?": True, "What does the customer need?": True}
