"""LM-head "contrast" tokens (the paper's analyze_propose_results.py, part b).

The cluster's mean embedding minus the mean over all texts is pushed through the LM head: the tokens it
scores highest are what this cluster's texts are more likely than the rest to answer first. With the
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
    global_mean = embeddings.mean(axis=0)
    result = []
    for k in range(n_clusters):
        if not (assignment == k).any():
            result.append([])
            continue
        direction = torch.from_numpy(embeddings[assignment == k].mean(axis=0) - global_mean)
        logits = lm_head(direction.to(device=weight.device, dtype=weight.dtype)[None])[0].float()
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
