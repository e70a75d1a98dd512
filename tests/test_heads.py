"""Instruction heads on the real default model (a small sample): fit, save, reload as a plain
SentenceTransformer, apply to precomputed vectors, and the errors of bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from conftest import shared_file
from inbedder_st import heads
from inbedder_st.heads import HeadInfo, apply_heads, fit_head, group_answers, save_head
from inbedder_st.heads.fit import MIN_SAMPLE, resolve_base
from inbedder_st.heads.scores import similarity_agreement

PROMPT = "How does the writer feel?"
SAMPLE = 80


def emotion(split: str) -> list[str]:
    lines = shared_file(f"emotion/{split}.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["text"] for line in lines]


@pytest.fixture(scope="session")
def minilm():
    return resolve_base("minilm", device="cpu")[0]


@pytest.fixture(scope="session")
def emotion_head(default_model, minilm):
    return fit_head(default_model, emotion("train")[:1000], PROMPT, base=minilm, sample=SAMPLE, seed=0)


@pytest.fixture(scope="session")
def saved_head(emotion_head, tmp_path_factory):
    return save_head(emotion_head, tmp_path_factory.mktemp("head") / "feel")


def test_a_head_is_minilm_plus_dense_and_normalize(emotion_head, minilm):
    from sentence_transformers.base.modules import Dense, Normalize

    assert [type(m).__name__ for m in emotion_head] == [type(m).__name__ for m in minilm] + ["Dense", "Normalize"]
    assert isinstance(emotion_head[-2], Dense) and isinstance(emotion_head[-1], Normalize)
    info = emotion_head.head_info
    assert (info.instruction, info.sample_size, info.base_dim, info.dim) == (PROMPT, SAMPLE, 384, 576)
    assert info.base == "sentence-transformers/all-MiniLM-L6-v2" and "InBedder" in info.teacher
    vectors = emotion_head.encode(emotion("test")[:5])
    assert vectors.shape == (5, 576)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)


def test_the_saved_folder_reloads_without_this_package_or_trust_remote_code(saved_head, emotion_head, tmp_path):
    files = {p.name for p in saved_head.rglob("*") if p.is_file()}
    assert not any(name.endswith((".py", ".bin", ".pt", ".pth", ".pkl")) for name in files), files
    assert all(entry["type"].startswith("sentence_transformers.") for entry in json.loads((saved_head / "modules.json").read_text()))
    texts = emotion("test")[:6]
    out = tmp_path / "reloaded.npy"
    script = (
        "import sys, numpy as np\n"
        "from sentence_transformers import SentenceTransformer\n"
        f"model = SentenceTransformer({str(saved_head)!r}, device='cpu')\n"
        f"np.save({str(out)!r}, model.encode({texts!r}))\n"
        "assert not [m for m in sys.modules if m.startswith(('inbedder_st', 'mteb_tasks'))], 'imported our code'\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, timeout=300)
    np.testing.assert_allclose(np.load(out), emotion_head.encode(texts), atol=1e-5)


def test_head_config_and_card_say_what_the_head_is(saved_head):
    info = heads.read_head_info(saved_head)
    assert info.instruction == PROMPT and info.sample_size == SAMPLE and info.kind == "linear"
    assert {"cv_cosine", "held_out_agreement_base", "held_out_agreement_head"} <= set(info.fit_scores)
    assert set(info.stage_seconds) == {"teacher", "base", "solve", "scores"}
    assert len(info.teacher_weights) == 40  # tells heads of the old and the new default apart
    card = (saved_head / "README.md").read_text(encoding="utf-8")
    assert f"weights fingerprint {info.teacher_weights[:12]}" in card
    assert "instruction-head" in card and PROMPT in card and f"Sample: {SAMPLE} distinct texts" in card
    assert "base_model: sentence-transformers/all-MiniLM-L6-v2" in card
    assert heads.load_head(saved_head).head_info == info


def test_apply_heads_on_precomputed_vectors_equals_encoding(emotion_head, saved_head, minilm):
    texts = emotion("test")[:20]
    vectors = minilm.encode(texts)
    from_model = apply_heads(vectors, [emotion_head])
    from_folder = apply_heads(vectors, {"feel": saved_head})
    assert list(from_model) == [PROMPT] and list(from_folder) == ["feel"]
    np.testing.assert_allclose(from_model[PROMPT], emotion_head.encode(texts), atol=1e-5)
    np.testing.assert_allclose(from_folder["feel"], from_model[PROMPT], atol=1e-6)


def test_a_text_embeds_the_same_alone_or_in_a_batch(emotion_head):
    texts = emotion("test")[:9]
    batch = emotion_head.encode(texts, batch_size=9)
    alone = np.stack([emotion_head.encode([text])[0] for text in texts])
    np.testing.assert_allclose(alone, batch, atol=1e-5)


def test_the_head_agrees_with_its_teacher_better_than_its_base(emotion_head, default_model, minilm):
    texts = emotion("test")[:60]  # texts the head never saw
    teacher = default_model.encode(texts, prompt=PROMPT)
    base_agreement = similarity_agreement(minilm.encode(texts), teacher)
    head_agreement = similarity_agreement(emotion_head.encode(texts), teacher)
    assert head_agreement > base_agreement + 0.1, (base_agreement, head_agreement)


def test_the_answers_objective_fits_on_answer_groups(default_model, minilm):
    head = fit_head(default_model, emotion("train")[:400], PROMPT, base=minilm, sample=120, objective="answers", seed=1)
    info = head.head_info
    assert info.objective == "answers" and len(info.answer_groups) >= 2
    assert info.dim == len(info.answer_groups)  # one output per answer group (LDA-like projection)
    assert min(info.answer_groups.values()) >= 3
    texts = emotion("test")[:8]
    np.testing.assert_allclose(apply_heads(minilm.encode(texts), head)[PROMPT], head.encode(texts), atol=1e-5)


def test_answers_close_in_meaning_form_one_group():
    vectors = {"great": [1, 0, 0], "good": [0.95, 0.1, 0], "awful": [0, 1, 0], "bad": [0.1, 0.95, 0], "blue": [0, 0, 1]}

    def embed(strings):
        return np.array([vectors[s] for s in strings], dtype=float)

    answers = ["Great!", "great", "good", "Awful.", "bad", "bad", "blue"]
    groups = group_answers(answers, min_group=2, embed=embed)
    assert groups.groups == {"great": 3, "bad": 3}  # each group is named by its most frequent answer
    assert groups.labels == ["great", "great", "great", "bad", "bad", "bad", None]


def test_opposite_answers_stay_apart_under_the_base_model(minilm):
    # all-MiniLM-L6-v2 puts positive/negative 0.29 apart and joy/anger 0.53: labels, not synonyms
    def embed(strings):
        return minilm.encode(strings, normalize_embeddings=True)

    answers = ["positive"] * 3 + ["negative"] * 3 + ["joy"] * 3 + ["anger"] * 3 + ["awful"] * 2 + ["terrible"]
    groups = group_answers(answers, min_group=2, embed=embed)
    assert groups.groups == {"anger": 3, "joy": 3, "negative": 3, "positive": 3, "awful": 3}


def test_the_mlp_head_has_two_dense_layers(default_model, minilm):
    head = fit_head(default_model, emotion("train")[:400], PROMPT, base=minilm, sample=MIN_SAMPLE["mlp"], kind="mlp")
    assert [type(m).__name__ for m in head][-3:] == ["Dense", "Dense", "Normalize"]
    assert type(head[-3].activation_function).__name__ == "GELU"
    texts = emotion("test")[:8]
    np.testing.assert_allclose(apply_heads(minilm.encode(texts), head)[PROMPT], head.encode(texts), atol=1e-5)


# ----- bad input ---------------------------------------------------------------------------------------
class NoTeacher:
    """Fails the test if a bad request reached the (expensive) teacher."""

    def encode(self, *args, **kwargs):
        raise AssertionError("the teacher was called")


@pytest.mark.parametrize(
    "texts, options, message",
    [
        (["a text"] * 500, {}, r"at least 50 distinct non-empty texts; got 1 \(sample=1000, 1 distinct"),
        ([f"text {i}" for i in range(500)], {"sample": 20}, r"at least 50 .* got 20 \(sample=20"),
        ([f"text {i}" for i in range(150)], {"kind": "mlp"}, r"mlp head needs a sample of at least 200"),
        ([f"text {i}" for i in range(99)], {"kind": "ridge"}, r"Unknown kind 'ridge'. Valid choices: \['linear', 'mlp'\]"),
        ([f"text {i}" for i in range(99)], {"objective": "labels"}, r"Unknown objective 'labels'"),
        ([f"text {i}" for i in range(99)], {"sample": 0}, r"sample must be a positive number"),
    ],
)
def test_bad_fit_requests_fail_before_the_teacher_runs(minilm, texts, options, message):
    with pytest.raises(ValueError, match=message):
        fit_head(NoTeacher(), texts, PROMPT, base=minilm, **options)


def test_an_empty_instruction_is_refused(minilm):
    with pytest.raises(ValueError, match="needs the instruction"):
        fit_head(NoTeacher(), [f"t{i}" for i in range(99)], " ", base=minilm)


def test_the_answers_objective_needs_an_inbedder_teacher(minilm):
    with pytest.raises(TypeError, match=r"objective='answers' needs an InBedder teacher \(it generates answers\); got SentenceTransformer"):
        fit_head(minilm, [f"t{i}" for i in range(99)], PROMPT, base=minilm, objective="answers")


def test_answers_that_form_one_group_are_an_error_naming_the_instruction():
    answers = ["Positive.", "positive", "POSITIVE!", "the positive", "meh", "fine"]
    with pytest.raises(ValueError, match=r"Instruction 'How\?': the teacher's answers on 6 texts form 1 group\(s\).*'positive' x4"):
        group_answers(answers, prompt="How?")
    groups = group_answers(answers + ["meh", "meh"], prompt="How?")
    assert groups.groups == {"positive": 4, "meh": 3} and groups.labels[5] is None


def test_base_vectors_of_another_size_are_refused(emotion_head):
    with pytest.raises(ValueError, match=r"sits on sentence-transformers/all-MiniLM-L6-v2 \(384 dimensions\); the base embeddings given have 100"):
        apply_heads(np.zeros((3, 100), dtype=np.float32), emotion_head)
    with pytest.raises(ValueError, match="2-D array"):
        apply_heads(np.zeros(384, dtype=np.float32), emotion_head)
    with pytest.raises(TypeError, match="Not an instruction head"):
        apply_heads(np.zeros((1, 384)), [object()])


def test_a_head_on_another_base_is_refused_by_the_heads_encoder(emotion_head, minilm):
    from mteb.models import ModelMeta

    from mteb_tasks.heads_encoder import HeadsEncoder

    info = HeadInfo(**{**emotion_head.head_info.__dict__, "base_dim": 768, "base": "some/768-model"})
    with pytest.raises(ValueError, match=r"sits on some/768-model \(768 dimensions\); the base model given outputs 384"):
        HeadsEncoder(minilm, {PROMPT: (info, [])}, meta=ModelMeta.create_empty())


def test_an_identity_head_is_the_base_model_declared_to_answer_an_instruction(minilm, tmp_path):
    from sentence_transformers import SentenceTransformer

    head = heads.identity_head("What is this sentence about?", base=minilm)
    assert head.head_info.kind == "identity" and head.head_info.sample_size == 0
    folder = save_head(head, tmp_path / "about")
    texts = ["a cat sits on the mat", "stocks fell sharply"]
    vectors = minilm.encode(texts)
    np.testing.assert_allclose(SentenceTransformer(str(folder)).encode(texts), vectors, atol=1e-6)
    np.testing.assert_allclose(apply_heads(vectors, folder)["What is this sentence about?"], vectors, atol=1e-6)
    assert "Identity head" in (folder / "README.md").read_text(encoding="utf-8")


def test_a_head_set_with_two_heads_for_one_instruction_names_a_folder(minilm, tmp_path):
    from mteb_tasks.heads_encoder import read_head_set

    for name in ("a", "b"):
        heads.save_head(heads.identity_head("What is this sentence about?", base=minilm), tmp_path / name)
    with pytest.raises(ValueError, match=r"same instruction 'What is this sentence about\?' \(.*[ab] is one\)"):
        read_head_set(tmp_path)
