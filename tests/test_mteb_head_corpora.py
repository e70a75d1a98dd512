"""Head corpora for the dev and held-out suites: one per instruction the suite asks, none of their texts tested
on by any task of that suite."""

import pytest

from conftest import shared_file
from mteb_tasks.head_corpora import head_corpora, suite_instructions, suite_test_texts


@pytest.mark.parametrize("suite", ["dev", "heldout"])
def test_every_instruction_of_a_suite_has_a_corpus_disjoint_from_its_test_texts(suite):
    root = shared_file("").resolve()
    corpora = head_corpora(root, suite)
    assert set(corpora) == set(suite_instructions(root, suite))
    tested = suite_test_texts(root, suite)
    assert len(tested) > 2000
    for instruction, texts in corpora.items():
        assert len(texts) >= 1000, instruction
        assert len(set(texts)) == len(texts), instruction
        assert not tested.intersection(texts), instruction


def test_an_unknown_suite_is_an_error_naming_the_suites():
    with pytest.raises(ValueError, match=r"'paper'.*\['dev', 'heldout'\]"):
        head_corpora(shared_file("").resolve(), "paper")
