"""embed_dataset with the real default model, once (issue 17): each actor's embeddings and answers equal
single-process ``model.encode`` and ``inbedder_st.answer`` for every instruction."""

from __future__ import annotations

import numpy as np

import inbedder_st

PROMPTS = ["How does the customer feel?", "What does the customer need?", "Is the customer angry?"]


def test_default_model_on_ray_equals_one_process(ray_session, default_model, customer_texts):
    from inbedder_st.distributed import embed_dataset

    texts = customer_texts[:10]
    ds = ray_session.data.from_items([{"id": i, "text": t} for i, t in enumerate(texts)], override_num_blocks=4)
    rows = embed_dataset(ds, "default", PROMPTS, batch_size=8, answers=True).take_all()

    assert [r["id"] for r in rows] == list(range(len(texts))) and [r["text"] for r in rows] == texts
    for j, prompt in enumerate(PROMPTS):
        got = np.array([r[f"embedding_{j}"] for r in rows], dtype=np.float64)
        want = default_model.encode(texts, prompt=prompt).astype(np.float64)
        cosine = (got * want).sum(1) / np.linalg.norm(got, axis=1) / np.linalg.norm(want, axis=1)
        assert cosine.min() >= 0.9999, (prompt, cosine.min())
        assert [r[f"answer_{j}"] for r in rows] == inbedder_st.answer(default_model, texts, prompt=prompt)
