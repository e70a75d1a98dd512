"""Answer-space readouts (answer_dist, answer_sparse) on the real default model: agreement with a plain
transformers computation, sparsity, batch invariance, decoding, save/reload, encode_multi, cache and CLI."""

import json

import numpy as np
import pytest
import torch
from sentence_transformers import SentenceTransformer, SparseEncoder

import inbedder_st
from inbedder_st import answer_space, encode_multi
from inbedder_st.cli import main
from inbedder_st.sparse import InBedderSparseModel

ANIMAL = "What animal is mentioned?"
TEXTS = ["I love cat!", "I love dog!", "I dislike cat!"]


@pytest.fixture
def dist_model(fresh_default):
    fresh_default[0].pooling = "answer_dist"
    return fresh_default


@pytest.fixture
def sparse_model(fresh_default):
    fresh_default[0].pooling = "answer_sparse"
    fresh_default[0].answer_top_k = 16
    return InBedderSparseModel(modules=[fresh_default[0]], max_active_dims=16, similarity_fn_name="dot")


def plain_answer_distribution(model, text: str, instruction: str) -> torch.Tensor:
    """The next-token distribution after the whole QA prompt, computed with transformers alone."""
    module = model[0]
    prompt = module.template.replace("{input}", text).replace("{instruction}", instruction)
    ids = module.tokenizer(prompt, return_tensors="pt")["input_ids"]
    assert ids[0].tolist() == module.preprocess([text], prompt=instruction)["input_ids"][0].tolist()
    with torch.inference_mode():
        logits = module.model(input_ids=ids).logits[0, -1].float()
    word_like = [any(ch.isalnum() for ch in module.tokenizer.decode([i])) for i in range(logits.shape[0])]
    allowed = torch.tensor(word_like) & ~torch.isin(torch.arange(logits.shape[0]), torch.tensor(module.tokenizer.all_special_ids))
    return torch.softmax(logits.masked_fill(~allowed, float("-inf")) / module.answer_temperature, dim=-1)


def test_answer_dist_equals_the_expected_answer_embedding_from_the_lm_head(dist_model):
    embedding = dist_model.encode(["I love cat!"], prompt=ANIMAL, convert_to_tensor=True)[0]
    probs = plain_answer_distribution(dist_model, "I love cat!", ANIMAL)
    expected = probs @ dist_model[0].model.get_output_embeddings().weight.float()
    torch.testing.assert_close(embedding, expected, atol=1e-5, rtol=1e-4)
    assert embedding.shape == (576,)


def test_the_answer_space_separates_what_the_raw_state_blurs(fresh_default):
    """Under "What animal is mentioned?", cat and dog texts differ in their answer, little in their passage."""
    pair = ["I love cat!", "I love dog!"]
    similarity = {}
    fresh_default[0].answer_temperature = 1.0  # answer_dist's cosines at the default T=2 sit close to 1 (README)
    for pooling in ("fst_gen", "answer_dist", "answer_sparse"):
        fresh_default[0].pooling = pooling
        e = fresh_default.encode(pair, prompt=ANIMAL, convert_to_tensor=True)
        similarity[pooling] = float(torch.nn.functional.cosine_similarity(e[0], e[1], dim=0))
    assert similarity["answer_sparse"] < similarity["fst_gen"] - 0.05
    assert similarity["answer_dist"] < similarity["fst_gen"]


def test_sparse_vectors_have_at_most_k_active_dims_and_unit_norm(sparse_model):
    embeddings = sparse_model.encode(TEXTS, prompt=ANIMAL)
    assert embeddings.is_sparse and embeddings.shape == (3, sparse_model[0].vocab_size)
    dense = embeddings.to_dense()
    assert ((dense != 0).sum(1) <= 16).all()
    torch.testing.assert_close(dense.norm(dim=1), torch.ones(3))
    assert sparse_model.get_embedding_dimension() == sparse_model[0].vocab_size


def test_sparse_vectors_decode_to_the_models_own_answer_tokens(sparse_model):
    texts = TEXTS + ["My parrot talks all day.", "The horse ran away."]
    embeddings = sparse_model.encode(texts, prompt=ANIMAL)
    decoded = [pairs[0][0] for pairs in sparse_model.decode(embeddings, top_k=1)]
    answers = inbedder_st.answer(sparse_model, texts, prompt=ANIMAL)
    first_tokens = [sparse_model.tokenizer.convert_ids_to_tokens(sparse_model.tokenizer(a)["input_ids"][0]) for a in answers]
    assert decoded == first_tokens  # the heaviest entry is the token the model answers with
    assert decoded[:2] == ["cat", "dog"]


def test_sparse_similarity_follows_the_answer(sparse_model):
    embeddings = sparse_model.encode(["I love cat!", "My cat is adorable.", "I love dog!"], prompt=ANIMAL)
    sim = sparse_model.similarity(embeddings, embeddings)
    assert sim[0, 1] > sim[0, 2]


def test_dropped_tokens_never_appear(sparse_model):
    dropped = sparse_model[0].answer_dropped
    embeddings = sparse_model.encode(["!!!", "I love cat!"], prompt="What punctuation ends this?").to_dense()
    assert (embeddings[:, dropped] == 0).all()
    assert dropped[sparse_model.tokenizer.all_special_ids].all()
    assert not dropped[sparse_model.tokenizer.convert_tokens_to_ids("cat")]


@pytest.mark.parametrize("pooling", ["answer_dist", "answer_sparse"])
def test_embeddings_do_not_depend_on_the_batch(fresh_default, pooling):
    fresh_default[0].pooling = pooling
    alone = fresh_default.encode(["I love cat!"], prompt=ANIMAL, batch_size=1)
    mixed = fresh_default.encode(
        ["A long sentence about a dog who runs in the park every morning.", "I love cat!", "ok"],
        prompt=ANIMAL, batch_size=3,
    )  # fmt: skip
    np.testing.assert_allclose(mixed[1], alone[0], atol=1e-5)


def test_answer_steps_pool_the_generated_answer(fresh_default):
    # "great white shark" takes several answer steps, "cat" one (then EOS): pooling the answer's steps
    # changes the first text's embedding and leaves the second's as its first step
    texts = ["A great white shark swam past the boat.", "I love cat!"]
    module = fresh_default[0]
    module.pooling = "answer_dist"
    module.max_new_tokens = 3
    steps = module.generate(**module.preprocess(texts, prompt=ANIMAL)).keep.sum(dim=1).tolist()
    assert steps[0] > 1 and steps[1] == 1, steps
    first = fresh_default.encode(texts, prompt=ANIMAL)
    module.answer_steps = "answer"
    pooled = fresh_default.encode(texts, prompt=ANIMAL)
    assert pooled.shape == first.shape
    assert not np.allclose(pooled[0], first[0]) and np.allclose(pooled[1], first[1], atol=1e-6)


def test_dense_answer_dist_saves_and_reloads_identically(dist_model, tmp_path):
    before = dist_model.encode(TEXTS, prompt=ANIMAL)
    dist_model.save(str(tmp_path / "m"))
    config = json.loads((tmp_path / "m" / "inbedder_config.json").read_text())
    assert config["pooling"] == "answer_dist" and config["answer_drop"] == "punctuation"
    reloaded = SentenceTransformer(str(tmp_path / "m"), trust_remote_code=True)
    np.testing.assert_array_equal(reloaded.encode(TEXTS, prompt=ANIMAL), before)


def test_sparse_model_saves_and_reloads_identically(sparse_model, tmp_path):
    before = sparse_model.encode(TEXTS, prompt=ANIMAL).to_dense()
    sparse_model.save(str(tmp_path / "s"))
    assert not list((tmp_path / "s").glob("*.py"))
    plain = SparseEncoder(str(tmp_path / "s"), trust_remote_code=True)
    ours = inbedder_st.load_sparse_model(str(tmp_path / "s"))
    assert ours.max_active_dims == plain.max_active_dims == 16
    for reloaded in (plain, ours):
        torch.testing.assert_close(reloaded.encode(TEXTS, prompt=ANIMAL).to_dense(), before, atol=0, rtol=0)


def test_load_sparse_model_refuses_a_dense_inbedder_folder(fresh_default, tmp_path):
    fresh_default.save(str(tmp_path / "dense"))
    with pytest.raises(ValueError, match="load_model"):
        inbedder_st.load_sparse_model(str(tmp_path / "dense"))
    with pytest.raises(ValueError, match="answer_sparse"):
        inbedder_st.load_sparse_model(pooling="fst_gen")


@pytest.mark.parametrize("pooling", ["answer_dist", "answer_sparse"])
def test_encode_multi_equals_encode(fresh_default, pooling):
    fresh_default[0].pooling = pooling
    prompts = [ANIMAL, "How does the writer feel?"]
    multi = encode_multi(fresh_default, TEXTS + ["A much longer text about a horse and a farm."], prompts)
    for j, prompt in enumerate(prompts):
        single = fresh_default.encode(TEXTS + ["A much longer text about a horse and a farm."], prompt=prompt)
        got = multi[j].to_dense().numpy() if pooling == "answer_sparse" else multi[j]
        np.testing.assert_allclose(got, single, atol=1e-5)
    if pooling == "answer_sparse":
        assert multi.is_sparse and multi.shape == (2, 4, fresh_default[0].vocab_size)


def test_encode_multi_refuses_the_answer_steps_readout(fresh_default):
    fresh_default[0].pooling = "answer_dist"
    fresh_default[0].answer_steps = "answer"
    with pytest.raises(ValueError, match="answer_steps"):
        encode_multi(fresh_default, TEXTS, [ANIMAL])


def test_the_embedding_cache_keeps_answer_dist_apart_from_fst_gen(fresh_default, tmp_path):
    from inbedder_st.cache import EmbeddingCache

    cache = EmbeddingCache(tmp_path / "cache")
    raw = cache.encode(fresh_default, TEXTS, prompt=ANIMAL)
    fresh_default[0].pooling = "answer_dist"
    dist = cache.encode(fresh_default, TEXTS, prompt=ANIMAL)
    np.testing.assert_allclose(dist, fresh_default.encode(TEXTS, prompt=ANIMAL), atol=1e-6)
    assert not np.allclose(raw, dist)


def test_bad_answer_options_are_refused(fresh_default):
    module = fresh_default[0]
    with pytest.raises(ValueError, match="layer=-1"):
        inbedder_st.InBedder(module.model, module.tokenizer, pooling="answer_dist", layer=10)
    for bad in (dict(answer_drop="commas"), dict(answer_steps="all"), dict(answer_temperature=0), dict(answer_top_k=0)):
        with pytest.raises(ValueError, match="answer_"):
            inbedder_st.InBedder(module.model, module.tokenizer, pooling="answer_sparse", **bad)


def test_families_without_a_causal_lm_head_name_the_reason(tmp_path):
    from tiny_models import build_roberta

    folder = build_roberta(tmp_path / "roberta")
    with pytest.raises(ValueError, match="causal LM"):
        inbedder_st.load_model(str(folder), pooling="answer_dist")


def test_dropped_token_mask_levels_are_cumulative(default_model):
    tokenizer, vocab = default_model.tokenizer, default_model[0].vocab_size
    special, punctuation, stop = (answer_space.dropped_token_mask(tokenizer, vocab, d) for d in answer_space.DROP_CHOICES)
    assert special.sum() < punctuation.sum() < stop.sum()
    assert (special <= punctuation).all() and (punctuation <= stop).all()
    assert stop[tokenizer.convert_tokens_to_ids("the")] and not punctuation[tokenizer.convert_tokens_to_ids("the")]


def test_cli_writes_sparse_jsonl_and_npz(tmp_path, capsys):
    import scipy.sparse

    texts = tmp_path / "texts.txt"
    texts.write_text("I love cat!\nI love dog!\nMy cat is adorable.\n", encoding="utf-8")
    npz, jsonl = tmp_path / "emb.npz", tmp_path / "emb.jsonl"
    common = ["encode", "--prompt", ANIMAL, "--input", str(texts), "--pooling", "answer_sparse", "--top-k", "8"]
    assert main(common + ["--output", str(npz)]) == 0
    assert main(common + ["--output", str(jsonl)]) == 0
    matrix = scipy.sparse.load_npz(npz)
    assert matrix.shape[0] == 3 and (matrix.getnnz(axis=1) <= 8).all()
    rows = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert [row["sparse"][0]["token"] for row in rows] == ["cat", "dog", "cat"]
    first = rows[0]["sparse"][0]
    assert matrix[0, first["id"]] == pytest.approx(first["weight"], abs=1e-6)
    assert main(common + ["--output", str(tmp_path / "emb.npy")]) == 2
    assert "must end with one of" in capsys.readouterr().err


def test_mteb_evaluates_the_sparse_model_through_its_dense_form(sparse_model):
    import mteb

    import mteb_tasks

    rows = [{"text": t, "animal": a, "feeling": f} for t, a, f in [
        ("I love cats!", "cat", "love"), ("Cats are wonderful.", "cat", "love"), ("I hate my cat.", "cat", "hate"),
        ("My cat is awful.", "cat", "hate"), ("I love dogs!", "dog", "love"), ("Dogs are wonderful.", "dog", "love"),
        ("I hate my dog.", "dog", "hate"), ("My dog is awful.", "dog", "hate")]]  # fmt: skip
    task = mteb_tasks.dual_aspect_triplet_task(
        "AnimalFeelingTriplets", rows, n_triplets=8,
        aspects={"animal": ("animal", ANIMAL), "feeling": ("feeling", "How does the writer feel?")},
    )  # fmt: skip
    meta = mteb_tasks.default_model_meta.model_copy(update={"name": "test/sparse"})
    result = mteb.evaluate(mteb_tasks.InstructionEncoder(sparse_model, meta=meta), task, cache=None, show_progress_bar=False)
    scores = {s["hf_subset"]: s["main_score"] for s in result.task_results[0].scores["test"]}
    assert set(scores) == {"animal", "feeling"} and all(0 <= v <= 1 for v in scores.values())
    assert mteb_tasks.encoder.is_sparse_encoder(sparse_model)  # the path that densifies the sparse vectors


def test_the_embedding_cache_refuses_sparse_vectors(sparse_model, tmp_path):
    from inbedder_st.cache import EmbeddingCache

    with pytest.raises(ValueError, match="answer_dist"):
        EmbeddingCache(tmp_path / "cache").encode(sparse_model, TEXTS, prompt=ANIMAL)


def test_export_of_a_sparse_model_names_its_pooling_and_how_to_index_it(sparse_model, tmp_path):
    from inbedder_st import hub

    folder = tmp_path / "exported"
    hub.export(sparse_model, folder, model_id="someone/inbedder-sparse")
    card = (folder / "README.md").read_text(encoding="utf-8")
    assert "`answer_sparse` pooling" in card and "inverted index" in card and "load_sparse_model" in card
    reloaded = inbedder_st.load_sparse_model(str(folder))
    torch.testing.assert_close(
        reloaded.encode(TEXTS, prompt=ANIMAL).to_dense(), sparse_model.encode(TEXTS, prompt=ANIMAL).to_dense()
    )
