"""The dev suite's head corpora: one per dev instruction, none of their texts tested on by any dev task."""

from conftest import shared_file
from mteb_tasks.dev_heads import dev_head_corpora, dev_instructions, dev_test_texts


def test_every_dev_instruction_has_a_corpus_disjoint_from_every_dev_test_text():
    root = shared_file("").resolve()
    corpora = dev_head_corpora(root)
    assert set(corpora) == set(dev_instructions(root))
    tested = dev_test_texts(root)
    assert len(tested) > 5000
    for instruction, texts in corpora.items():
        assert len(texts) >= 1000, instruction
        assert len(set(texts)) == len(texts), instruction
        assert not tested.intersection(texts), instruction
