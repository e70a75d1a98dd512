"""inbedder_st.explain on a small real sample: Sentiment Labelled Sentences (phone / movie / restaurant reviews)."""

import json

import numpy as np
import pytest
from conftest import shared_file

import inbedder_st
from inbedder_st.explain import cluster, plot_clusters, write_reports
from inbedder_st.explain.contrast import is_readable
from inbedder_st.explain.keywords import answer_words, cluster_keywords
from inbedder_st.explain.states import answers_and_embeddings

WHAT = "What is being reviewed?"
SOURCES = ("amazon_cells", "imdb", "yelp")


def sls_sample(per_source: int = 8, max_chars: int = 70):
    """The first short sentences of each source (short keeps the test fast); texts, source and sentiment labels."""
    texts, source, sentiment = [], [], []
    for name in SOURCES:
        lines = shared_file(f"dual_aspect/sls/sls_{name}.txt").read_text(encoding="utf-8").splitlines()
        rows = [line.rsplit("\t", 1) for line in lines]
        rows = [(t.strip(), label) for t, label in rows if len(t.strip()) <= max_chars][:per_source]
        texts += [t for t, _ in rows]
        source += [name] * len(rows)
        sentiment += [("negative", "positive")[int(label)] for _, label in rows]
    return texts, {"source": source, "sentiment": sentiment}


@pytest.fixture(scope="module")
def sample():
    return sls_sample()


@pytest.fixture(scope="module")
def explained(default_model, sample):
    texts, labels = sample
    return cluster(default_model, texts, WHAT, 3, labels=labels, seed=0, show_progress_bar=False)


def test_every_text_is_assigned_and_clusters_are_numbered_by_size(explained, sample):
    texts, _ = sample
    assert len(explained.assignment) == len(texts) == 24
    assert sorted(set(explained.assignment)) == [0, 1, 2]
    assert explained.sizes == sorted(explained.sizes, reverse=True)
    assert explained.sizes == [explained.assignment.count(k) for k in range(3)]
    for c in explained.clusters:
        assert all(explained.assignment[i] == c.cluster for i in c.nearest)
        assert c.nearest_texts == [texts[i] for i in c.nearest]


def test_keywords_are_non_empty_and_come_from_the_clusters_answers(explained):
    for c in explained.clusters:
        members = [a for a, k in zip(explained.answers, explained.assignment) if k == c.cluster]
        vocabulary = set().union(*(answer_words(a) for a in members))
        assert c.keywords, f"cluster {c.cluster} has no keywords; its answers: {members}"
        for keyword in c.keywords:
            assert keyword.word in vocabulary
            assert keyword.answers == sum(keyword.word in answer_words(a) for a in members)


def test_contrast_tokens_are_readable_and_the_movie_cluster_reads_as_film(explained):
    for c in explained.clusters:
        assert c.contrast_tokens and all(is_readable(t) for t in c.contrast_tokens)
    # The cluster holding most IMDb sentences: its LM-head direction and its answers are about films.
    movie = max(explained.clusters, key=lambda c: c.labels["source"].get("imdb", 0))
    assert any(t.lower().startswith(("film", "movie")) for t in movie.contrast_tokens), movie.contrast_tokens
    assert {"movie", "film"} & {k.word for k in movie.keywords[:3]}, movie.keywords


@pytest.mark.xfail(strict=True, reason="known regression of the shipped default (README, Limits): on this sample its "
                   "clusters under 'What is being reviewed?' also follow sentiment (source V-measure 0.31, sentiment 0.16)")
def test_the_clusters_follow_the_instruction(explained):
    # Asked what is reviewed, the groups follow the source (phone / movie / restaurant), not the sentiment.
    scores = explained.scores
    assert scores["source"].v_measure > 0.3
    assert scores["source"].v_measure > 2 * scores["sentiment"].v_measure
    for c in explained.clusters:
        assert sum(c.labels["source"].values()) == c.size
        assert c.purity["source"] == max(c.labels["source"].values()) / c.size


def test_same_seed_gives_the_same_clusters_and_keywords(default_model, sample, explained):
    texts, labels = sample
    again = cluster(default_model, texts, WHAT, 3, labels=labels, seed=0, show_progress_bar=False)
    assert again.assignment == explained.assignment
    assert [c.keywords for c in again.clusters] == [c.keywords for c in explained.clusters]
    assert [c.contrast_tokens for c in again.clusters] == [c.contrast_tokens for c in explained.clusters]


def test_one_pass_matches_encode_and_answer(default_model, sample):
    texts = sample[0][:4]
    answers, embeddings = answers_and_embeddings(default_model, texts, WHAT, batch_size=3, show_progress_bar=False)
    assert answers == inbedder_st.answer(default_model, texts, prompt=WHAT)
    np.testing.assert_allclose(embeddings, default_model.encode(texts, prompt=WHAT), atol=1e-4)


def test_a_model_with_more_modules_clusters_what_encode_returns(default_model, sample):
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.base.modules import Normalize

    texts = sample[0][:3]
    normalized = SentenceTransformer(modules=[default_model[0], Normalize()], device="cpu")
    answers, embeddings = answers_and_embeddings(normalized, texts, WHAT, show_progress_bar=False)
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0, atol=1e-5)
    assert answers == inbedder_st.answer(default_model, texts, prompt=WHAT)


def test_report_and_plot_are_written_and_parse(explained, tmp_path):
    from PIL import Image

    png = plot_clusters(explained, tmp_path / "clusters.png")
    markdown, data = write_reports(explained, tmp_path, notes=["a note"], plot_name="clusters.png")
    report = json.loads(data.read_text(encoding="utf-8"))
    assert report["instruction"] == WHAT and report["n_clusters"] == 3 and report["notes"] == ["a note"]
    assert [row["cluster"] for row in report["texts"]] == explained.assignment
    assert [row["answer"] for row in report["texts"]] == explained.answers
    assert report["scores"]["source"]["v_measure"] == pytest.approx(explained.scores["source"].v_measure)
    assert [k["word"] for k in report["clusters"][0]["keywords"]] == [k.word for k in explained.clusters[0].keywords]
    text = markdown.read_text(encoding="utf-8")
    assert WHAT in text and "![PCA" in text and "| source | 3 |" in text
    assert all(f"## Cluster {k} (" in text for k in range(3))
    with Image.open(png) as image:
        assert image.format == "PNG" and image.width > 600 and image.height > 400


def test_keywords_rank_the_clusters_own_words_first():
    answers = ["movie", "film", "bad movie", "food", "service", "food", "phone", "battery", "phone"]
    assignment = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2])
    keywords = cluster_keywords(answers, assignment, 3, top=2)
    assert [k.word for k in keywords[0]] == ["movie", "bad"]
    assert [(k.word, k.answers) for k in keywords[1]] == [("food", 2), ("service", 1)]
    assert [k.word for k in keywords[2]] == ["phone", "battery"]
    assert cluster_keywords(["", "a", ""], np.array([0, 1, 1]), 2) == [[], []]  # no word of 2+ characters


@pytest.mark.parametrize(
    "texts, n_clusters, labels, error, message",
    [
        (["a", "b"], 3, None, ValueError, "n_clusters=3 must be between 1 and the number of texts (2)"),
        (["a", "b"], 0, None, ValueError, "n_clusters=0"),
        (["a", "b"], 2.0, None, TypeError, "n_clusters must be an integer, got 2.0"),
        ([], 1, None, ValueError, "texts is empty"),
        (["a", "b"], 1, ["x"], ValueError, "labels 'label' has 1 labels for 2 texts"),
        (["a", "b"], 1, {"source": ["x", "y", "z"]}, ValueError, "labels 'source' has 3 labels for 2 texts"),
        (["a", "b"], 1, "xy", TypeError, "labels 'label' must be a sequence"),
        (["a", 3], 1, None, TypeError, "Item 1 is int"),
    ],
)
def test_bad_input_names_the_value(default_model, texts, n_clusters, labels, error, message):
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        cluster(default_model, texts, WHAT, n_clusters, labels=labels)


def test_a_model_without_an_inbedder_is_refused():
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.base.modules import Normalize

    with pytest.raises(TypeError, match="need an InBedder model"):
        cluster(SentenceTransformer(modules=[Normalize()]), ["a", "b"], WHAT, 1)


@pytest.mark.filterwarnings("ignore:Number of distinct clusters:sklearn.exceptions.ConvergenceWarning")
def test_fewer_distinct_texts_than_clusters_leaves_an_empty_cluster(default_model, tmp_path):
    result = cluster(default_model, ["Great phone.", "Great phone.", "Great phone."], WHAT, 2, show_progress_bar=False)
    assert result.sizes == [3, 0]
    assert result.clusters[1].keywords == [] and result.clusters[1].nearest == []
    write_reports(result, tmp_path)
    assert "## Cluster 1 (0 texts)" in (tmp_path / "report.md").read_text(encoding="utf-8")
    assert plot_clusters(result, tmp_path / "p.png").stat().st_size > 0
