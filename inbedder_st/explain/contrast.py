"""LM-head "contrast" tokens (after the paper's analyze_propose_results.py, part b).

The tokens this cluster's texts are more likely than the rest to answer first. When the embeddings are the
last layer's first-answer states (fst_gen at the last layer), each text's answer distribution is computed
(answer_space.answer_distribution) and the cluster's mean distribution minus the mean over all texts is ranked:
a difference of probabilities, which stays readable when the states of a fine-tuned model spread widely.
Otherwise the paper's reading is used: the cluster's mean embedding minus the mean over all texts, pushed
through the LM head. With the
default settings (fst_gen, last layer) the embedding is the final-norm output at the last prompt token,
exactly the state the LM head reads when it generates; at earlier layers this is a logit-lens reading.
Only causal LMs get contrast tokens: a masked LM's head transforms its input non-linearly and a seq2seq
head reads decoder states, so the difference of means has no such reading there.
"""

from __future__ import annotations

import unicodedata

import numpy as np
import torch


def is_readable(token: str) -> bool:
    """False for empty, whitespace-only and punctuation/symbol-only tokens."""
    return any(unicodedata.category(ch)[0] in "LN" for ch in token)


@torch.inference_mode()
def contrast_tokens(module, embeddings: np.ndarray, assignment: np.ndarray, n_clusters: int, top: int = 10) -> list[list[str]]:
    """Per cluster, the ``top`` distinct readable tokens of lm_head(cluster mean - global mean).

    Empty lists when the model has no causal LM head that reads vectors of the embedding's size.
    """
    lm_head = module.model.get_output_embeddings()
    causal_head = getattr(module, "family", "causal") == "causal" and isinstance(lm_head, torch.nn.Linear)
    if not causal_head or lm_head.in_features != embeddings.shape[1]:
        return [[] for _ in range(n_clusters)]
    tokenizer = module.tokenizer
    special = set(tokenizer.all_special_ids)
    weight = lm_head.weight
    scores = _answer_contrast if _reads_final_states(module) else _state_contrast
    result = []
    for k, logits in enumerate(scores(module, lm_head, embeddings, assignment, n_clusters)):
        if logits is None:
            result.append([])
            continue
        tokens: list[str] = []
        seen: set[str] = set()
        for token_id in logits.argsort(descending=True).tolist():
            if token_id in special:
                continue
            token = tokenizer.decode([token_id]).strip()
            if not is_readable(token) or token.lower() in seen:
                continue
            seen.add(token.lower())
            tokens.append(token)
            if len(tokens) == top:
                break
        result.append(tokens)
    return result


def _reads_final_states(module) -> bool:
    return getattr(module, "pooling", None) == "fst_gen" and module.layer_index == module.num_layers


def _state_contrast(module, lm_head, embeddings: np.ndarray, assignment: np.ndarray, n_clusters: int):
    """The paper's: lm_head(cluster mean - global mean), per cluster (None for an empty cluster)."""
    weight = lm_head.weight
    global_mean = embeddings.mean(axis=0)
    for k in range(n_clusters):
        if not (assignment == k).any():
            yield None
            continue
        direction = torch.from_numpy(embeddings[assignment == k].mean(axis=0) - global_mean)
        yield lm_head(direction.to(device=weight.device, dtype=weight.dtype)[None])[0].float()


def _answer_contrast(module, lm_head, embeddings: np.ndarray, assignment: np.ndarray, n_clusters: int, chunk: int = 256):
    """Cluster mean answer distribution minus the mean over all texts, per cluster (None for an empty one)."""
    from inbedder_st.answer_space import answer_distribution

    weight = lm_head.weight
    sums = torch.zeros(n_clusters, weight.shape[0])
    states = torch.from_numpy(embeddings)
    labels = torch.from_numpy(np.asarray(assignment)).long()
    for start in range(0, len(states), chunk):
        part = states[start : start + chunk].to(device=weight.device, dtype=weight.dtype)
        probs = answer_distribution(lm_head(part), module.answer_dropped, module.answer_temperature).cpu()
        sums.index_add_(0, labels[start : start + chunk], probs)
    counts = torch.bincount(labels, minlength=n_clusters).float()
    global_mean = sums.sum(0) / counts.sum()
    for k in range(n_clusters):
        yield None if counts[k] == 0 else sums[k] / counts[k] - global_mean
