"""The InBedder module's settings as checked attributes.

``model[0].template = "alpaca"`` (or any other setting) is converted and checked when it is assigned: a bad value
raises at once, naming the setting and the valid choices, and the old value stays; a good one is in force for the
next call. Nothing is resolved later, so a setting never half-applies.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

from inbedder_st.answer_space import ANSWER_POOLINGS
from inbedder_st.backbones import family_class
from inbedder_st.templates import resolve_template

POOLING_ALIASES = {"first_gen": "fst_gen"}  # the reference's name for the seq2seq first-answer state


class Option:
    """A data descriptor: ``check(module, value)`` returns the value to store or raises."""

    def __init__(self, check: Callable[[Any, Any], Any]):
        self.check = check

    def __set_name__(self, owner, name: str) -> None:
        self.name = name

    def __get__(self, module, owner=None):
        if module is None:
            return self
        try:
            return module.__dict__[self.name]
        except KeyError:
            raise AttributeError(f"{type(module).__name__} has no setting {self.name!r} yet") from None

    def __set__(self, module, value) -> None:
        module.__dict__[self.name] = self.check(module, value)


def _integer(name: str, value, minimum: int | None = None) -> int:
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an integer, got {value!r}.")
    try:
        number = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}.") from None
    if minimum is not None and number < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {number}.")
    return number


def integer(name: str, minimum: int | None = None) -> Option:
    return Option(lambda module, value: _integer(name, value, minimum))


def flag(name: str) -> Option:
    def check(module, value) -> bool:
        if isinstance(value, bool) or value in (0, 1):
            return bool(value)
        raise TypeError(f"{name} must be True or False, got {value!r}.")

    return Option(check)


def number(name: str, low: float, high: float, low_open: bool = True) -> Option:
    def check(module, value) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"{name} must be a number, got {value!r}.")
        value = float(value)
        if not (low < value if low_open else low <= value) or value > high:
            raise ValueError(f"{name} must be in {'(' if low_open else '['}{low}, {high}], got {value}.")
        return value

    return Option(check)


def text(name: str, blank_ok: bool = True) -> Option:
    def check(module, value) -> str:
        if not isinstance(value, str) or (not blank_ok and not value.strip()):
            raise TypeError(f"{name} must be a{'' if blank_ok else ' non-blank'} string, got {value!r}.")
        return value

    return Option(check)


def choice(name: str, choices: tuple[str, ...]) -> Option:
    def check(module, value) -> str:
        if value not in choices:
            raise ValueError(f"Unknown {name} {value!r}. Valid choices: {list(choices)}.")
        return value

    return Option(check)


def words(module, value) -> list[str]:
    value = list(value or [])
    for index, word in enumerate(value):
        if not isinstance(word, str):
            raise TypeError(f"filter_words item {index} is {type(word).__name__}, expected str: {word!r:.80}")
    return value


def family(module, value) -> str:
    family_class(value)  # raises with the valid choices
    current = module.__dict__.get("family")
    if current is not None and value != current:
        raise ValueError(
            f"family is {current!r}, fixed by the loaded backbone; load the model again with family={value!r}."
        )
    return value


def template(module, value) -> str:
    if not isinstance(value, str):
        raise TypeError(f"template must be a string, got {type(value).__name__}.")
    return resolve_template(value, module.tokenizer)  # raises with the valid choices


def pooling(module, value) -> str:
    value = POOLING_ALIASES.get(value, value)
    valid = family_class(module.family).poolings
    if value not in valid:
        hint = " The answer-space poolings need a causal LM's next-token distribution." if value in ANSWER_POOLINGS else ""
        raise ValueError(
            f"Unknown pooling {value!r} for the {module.family} family. Valid choices: {list(valid)}.{hint}"
        )
    if module.__dict__.get("lm_head_transform") and value != "avg_gen":
        raise ValueError("lm_head_transform applies to pooling='avg_gen' only; set lm_head_transform = False first.")
    return value


def layer(module, value) -> int:
    value = _integer("layer", value)
    n = module.family_impl.num_layers(module.__dict__.get("pooling"))
    if not -(n + 1) <= value <= n:
        raise ValueError(f"Invalid layer {value!r}. Valid choices: integers from {-(n + 1)} to {n}.")
    return value


def lm_head_transform(module, value) -> bool:
    value = flag("lm_head_transform").check(module, value)
    if value and (module.family != "masked" or module.__dict__.get("pooling") != "avg_gen"):
        raise ValueError("lm_head_transform applies to the masked family with pooling='avg_gen' only.")
    return value
