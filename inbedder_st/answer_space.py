"""Answer-space readouts: the first-answer-token state read through the LM head as the answer distribution.

The fst_gen state ``h`` predicts the first answer token, but it also carries much of the passage. The model's
own next-token distribution ``p = softmax(lm_head(h) / T)`` is about the answer alone, so it is a better space
to compare texts in when the instruction decides what counts as similar:

- ``answer_dist`` (dense, hidden size): ``E^T p``, the expected answer-token embedding under ``p`` (``E`` is
  the output embedding matrix; tied to the input embeddings in SmolLM2 and Llama-style models);
- ``answer_sparse`` (vocabulary size): ``sqrt(p)`` with the ``top_k`` largest entries kept and L2-normalised,
  so a dot product is a cosine (and, before the cut, the Bhattacharyya coefficient of the two distributions).

Before the softmax, tokens that cannot be an answer word are removed from the vocabulary (``drop``): special
tokens and tokens with no letter or digit (punctuation, whitespace, byte pieces); ``"stopwords"`` also removes
NLTK's English stopwords. The defaults (T=2, k=64, punctuation dropped, first step) are the measured choices
(benchmarks/answer_readouts.py; README, "Answer-space embeddings").
"""

from __future__ import annotations

import functools

import torch

ANSWER_POOLINGS = ("answer_dist", "answer_sparse")
DROP_CHOICES = ("special", "punctuation", "stopwords")  # cumulative: each also drops the ones before it
ANSWER_STEPS = ("first", "answer")


def dropped_token_mask(tokenizer, vocab_size: int, drop: str) -> torch.Tensor:
    """[vocab_size] bool, True for tokens left out of the answer distribution (see the module docstring).

    ``vocab_size`` is the LM head's width, which may exceed the tokenizer's (padded embedding rows): the
    extra rows are never answers and are dropped.
    """
    return _dropped_token_mask(tokenizer, vocab_size, DROP_CHOICES.index(drop)).clone()


@functools.lru_cache(maxsize=8)
def _dropped_token_mask(tokenizer, vocab_size: int, level: int) -> torch.Tensor:
    mask = torch.ones(vocab_size, dtype=torch.bool)
    known = min(len(tokenizer), vocab_size)
    pieces = tokenizer.batch_decode([[i] for i in range(known)])
    words = [piece.strip() for piece in pieces]
    keep = torch.tensor([any(ch.isalnum() for ch in word) if level >= 1 else True for word in words])
    if level >= 2:
        from inbedder_st.stopwords import english_stopwords

        stop = set(english_stopwords())
        keep &= torch.tensor([word.lower() not in stop for word in words])
    mask[:known] = ~keep
    special = [i for i in tokenizer.all_special_ids if i is not None and i < vocab_size]
    mask[special] = True
    return mask


def answer_distribution(logits: torch.Tensor, dropped: torch.Tensor, temperature: float = 2.0) -> torch.Tensor:
    """[B, V] next-token probabilities over the kept tokens (fp32), dropped tokens exactly 0."""
    logits = logits.float().masked_fill(dropped.to(logits.device), float("-inf"))
    return torch.softmax(logits / temperature, dim=-1)


def expected_embedding(probs: torch.Tensor, output_embeddings: torch.Tensor) -> torch.Tensor:
    """[B, H] = probs @ E: the answer-token embedding expected under ``probs``."""
    return probs @ output_embeddings.float()


def sparse_answer_vector(probs: torch.Tensor, top_k: int) -> torch.Tensor:
    """[B, V]: sqrt(probs) with only the ``top_k`` largest entries kept, L2-normalised (dense storage)."""
    root = probs.sqrt()
    values, indices = root.topk(min(top_k, root.shape[-1]), dim=-1)
    out = torch.zeros_like(root).scatter_(-1, indices, values)
    return torch.nn.functional.normalize(out, dim=-1)


def mean_over_steps(step_probs: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """[B, V]: the mean of the per-step distributions [B, T, V] over the kept answer steps [B, T]."""
    weights = keep.to(step_probs.dtype).unsqueeze(-1)
    return (step_probs * weights).sum(1) / weights.sum(1).clamp(min=1)


def readout(pooling: str, probs: torch.Tensor, output_embeddings: torch.Tensor, top_k: int) -> torch.Tensor:
    """The embedding of ``pooling`` from an answer distribution."""
    if pooling == "answer_dist":
        return expected_embedding(probs, output_embeddings)
    if pooling == "answer_sparse":
        return sparse_answer_vector(probs, top_k)
    raise ValueError(f"Unknown answer pooling {pooling!r}. Valid choices: {list(ANSWER_POOLINGS)}.")
