"""The pooling functions on hand-made tensors (pure mechanics; behaviour with the model is in test_module)."""

import pytest
import torch

from inbedder_st.pooling import POOLINGS, pool

# Two left-padded prompts of lengths 2 and 3; state values make every mean easy to check by hand.
PROMPT = torch.tensor([[[0.0], [1.0], [3.0]], [[2.0], [4.0], [6.0]]])
PROMPT_MASK = torch.tensor([[0, 1, 1], [1, 1, 1]])
# Column 0 repeats the last prompt state; row 0 keeps column 1 only, row 1 keeps columns 1 and 2.
ANSWER = torch.tensor([[[3.0], [5.0], [7.0]], [[6.0], [8.0], [10.0]]])
KEEP = torch.tensor([[True, True, False], [True, True, True]])


def run(name):
    return pool(name, PROMPT, PROMPT_MASK, ANSWER, KEEP).squeeze(-1).tolist()


def test_fst_gen_is_the_last_prompt_state():
    assert run("fst_gen") == [3.0, 6.0]


def test_avg_ppt_excludes_the_last_prompt_token_and_padding():
    assert run("avg_ppt") == [1.0, 3.0]


def test_avg_gen_averages_the_kept_answer_states_with_the_first():
    assert run("avg_gen") == [4.0, 8.0]


def test_last_gen_takes_the_last_kept_state():
    assert run("last_gen") == [5.0, 10.0]


def test_last_gen_falls_back_to_the_first_state_when_nothing_is_kept():
    keep = torch.tensor([[True, False, False], [True, False, False]])
    assert pool("last_gen", PROMPT, PROMPT_MASK, ANSWER, keep).squeeze(-1).tolist() == [3.0, 6.0]


def test_avg_all_averages_prompt_and_kept_answer_states():
    # row 0: prompt body {1} + answers {3, 5} -> 3; row 1: {2, 4} + {6, 8, 10} -> 6
    assert run("avg_all") == [3.0, 6.0]


def test_unknown_pooling_lists_choices():
    with pytest.raises(ValueError, match="fst_gen.*avg_gen.*last_gen.*avg_ppt.*avg_all"):
        pool("mean", PROMPT, PROMPT_MASK)


@pytest.mark.parametrize("name", ["avg_gen", "last_gen", "avg_all"])
def test_generation_poolings_need_answer_states(name):
    assert name in POOLINGS
    with pytest.raises(ValueError, match="answer states"):
        pool(name, PROMPT, PROMPT_MASK)
