"""Each model family class provides what backbones/family.py says a family provides."""

import inspect

import pytest

from inbedder_st.answer_space import ANSWER_POOLINGS
from inbedder_st.backbones import FAMILY_NAMES, family_class
from inbedder_st.backbones.family import Family
from inbedder_st.pooling import POOLINGS

METHODS = [name for name, value in vars(Family).items() if inspect.isfunction(value) and not name.startswith("_")]


@pytest.mark.parametrize("name", FAMILY_NAMES)
def test_a_family_class_implements_the_interface(name):
    cls = family_class(name)
    assert cls.name == name and cls.padding_side in ("left", "right")
    assert cls.poolings and set(cls.poolings) <= set(POOLINGS + ANSWER_POOLINGS)  # names are defined once
    for method in METHODS:
        assert callable(getattr(cls, method, None)), f"{cls.__name__} lacks {method}"
    for static in ("load", "answer_targets", "answer_logits"):
        assert isinstance(inspect.getattr_static(cls, static), staticmethod), f"{cls.__name__}.{static}"
    assert hasattr(cls, "peft_task_type")


def test_an_unknown_family_names_the_valid_ones():
    with pytest.raises(ValueError, match=r"Unknown family 'rnn'. Valid choices: \['causal', 'masked', 'seq2seq'\]"):
        family_class("rnn")
