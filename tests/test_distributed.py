"""embed_dataset on a local Ray (issue 17): the mechanics on tiny random models of two families.

Tiny OPT goes through encode_multi (causal, fst_gen), tiny T5 through the per-instruction encode fallback;
each run checks the embeddings against single-process ``model.encode``, the answers against
``inbedder_st.answer``, and that the input columns and row order are kept. Ray runs are few and share one
session (``ray_session``): each start of an actor pool costs seconds.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import inbedder_st
from tiny_models import build_opt, build_t5

PROMPTS = ["What animal is it?", "How does the customer feel?"]
TEXTS = [f"Text {i}: " + ("I love cats and dogs." if i % 3 else "The customer is angry about the refund." * (i % 4 + 1)) for i in range(30)]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    return {"opt": str(build_opt(root / "opt")), "t5": str(build_t5(root / "t5"))}


def cosines(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


@pytest.mark.parametrize("family, answers, actors", [("opt", True, 2), ("t5", False, 1)])
def test_embeddings_and_answers_equal_one_process(ray_session, tiny, family, answers, actors):
    from inbedder_st.distributed import embed_dataset

    rows = [{"id": i, "text": t, "source": f"s{i % 4}"} for i, t in enumerate(TEXTS)]
    ds = ray_session.data.from_items(rows, override_num_blocks=6)
    out = embed_dataset(ds, tiny[family], PROMPTS, batch_size=4, concurrency=actors, answers=answers).take_all()

    assert [r["id"] for r in out] == list(range(len(TEXTS)))  # order kept, across two actors too
    assert [(r["text"], r["source"]) for r in out] == [(r["text"], r["source"]) for r in rows]
    expected_columns = {"id", "text", "source", "embedding_0", "embedding_1"} | ({"answer_0", "answer_1"} if answers else set())
    assert set(out[0]) == expected_columns
    model = inbedder_st.load_model(tiny[family], device="cpu")
    for j, prompt in enumerate(PROMPTS):
        got = np.array([r[f"embedding_{j}"] for r in out])
        assert cosines(got, model.encode(TEXTS, prompt=prompt)).min() >= 0.9999
        if answers:
            assert [r[f"answer_{j}"] for r in out] == inbedder_st.answer(model, TEXTS, prompt=prompt)


def test_named_prompts_and_a_null_text(ray_session, tiny):
    from inbedder_st.distributed import embed_dataset

    ds = ray_session.data.from_items([{"id": 0, "text": "fine"}, {"id": 1, "text": None}])
    with pytest.raises(Exception, match=r"column 'text' is null in row 1 of a batch: \{'id': 1"):
        embed_dataset(ds, tiny["opt"], {"animal": PROMPTS[0]}, batch_size=8).take_all()


def test_bad_arguments_fail_before_any_actor_starts(ray_session, tiny):
    import pyarrow as pa

    from inbedder_st.distributed import embed_dataset

    ds = ray_session.data.from_arrow(pa.table({"body": ["a", "b"]}))
    with pytest.raises(ValueError, match=r"no column 'text' in the dataset \(columns: body\)"):
        embed_dataset(ds, tiny["opt"], PROMPTS)
    ds = ray_session.data.from_arrow(pa.table({"text": ["a"], "embedding_0": [1]}))
    with pytest.raises(ValueError, match=r"already has column\(s\) \['embedding_0'\]"):
        embed_dataset(ds, tiny["opt"], PROMPTS)
    with pytest.raises(ValueError, match="prompts is empty"):
        embed_dataset(ds, tiny["opt"], [])
    with pytest.raises(ValueError, match="answer_sparse is not supported"):
        embed_dataset(ds, tiny["opt"], PROMPTS, pooling="answer_sparse")


def test_without_ray_the_error_names_the_extra(monkeypatch):
    from inbedder_st.distributed.ray_import import require_ray

    monkeypatch.setitem(sys.modules, "ray", None)  # what `import ray` sees when it is not installed
    with pytest.raises(ImportError, match=r'pip install "inbedder-st\[ray\]"'):
        require_ray()


def test_the_core_package_does_not_import_ray():
    code = "import sys, inbedder_st, inbedder_st.cli, inbedder_st.distributed; inbedder_st.cli.build_parser(); print('ray' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"
