"""The training objective: the paper's answer loss, plus an optional in-batch contrastive term.

The contrastive term acts on the fst_gen state (the last layer's state at the last prompt position, the one
that predicts the first answer token): among texts asked the same question in a batch, texts with the same
answer are pulled together and texts with other answers pushed apart (supervised contrastive, cosine
similarity over a temperature). Texts whose question no other text in the batch shares do not take part.
It can act on the answer-space readout instead (``answer_dist_readout``: the same state read through the LM head
as the expected answer-token embedding), so that the embedding trained is the one a model shipped with
``pooling="answer_dist"`` returns.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from inbedder_st.answer_space import answer_distribution, expected_embedding

_FAR = -1e4  # stands for -inf in masked log-sum-exps: finite, so empty rows give zero gradients, not NaN


def base_lm(model):
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def causal_forward(model, batch: dict[str, torch.Tensor], with_state: bool = False):
    """Per-answer-token cross-entropy (host-computed positions, no device sync) and, if asked, the fst_gen states."""
    lm = base_lm(model)
    hidden = lm.base_model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
    head = lm.get_output_embeddings()
    logits = head(hidden[batch["answer_rows"], batch["answer_cols"]])
    token_losses = F.cross_entropy(logits.float(), batch["answer_targets"], reduction="none")
    states = None
    if with_state:
        states = hidden[torch.arange(hidden.shape[0], device=hidden.device), batch["first_cols"]]
    return token_losses, states


def supervised_contrastive(states: torch.Tensor, groups: torch.Tensor, answers: torch.Tensor, temperature: float) -> torch.Tensor:
    """Mean over anchors (an example with another same-question example of the same answer and one of another
    answer) of -log( sum_same-answer exp(sim/t) / sum_same-question exp(sim/t) ), self excluded."""
    z = F.normalize(states.float(), dim=-1)
    similarity = z @ z.T / temperature
    n = states.shape[0]
    same_question = (groups[:, None] == groups[None, :]) & (groups[:, None] >= 0)
    others = same_question & ~torch.eye(n, dtype=torch.bool, device=states.device)
    positives = others & (answers[:, None] == answers[None, :])
    anchors = positives.any(dim=1) & (others & ~positives).any(dim=1)
    log_all = torch.logsumexp(similarity.masked_fill(~others, _FAR), dim=1)
    log_positive = torch.logsumexp(similarity.masked_fill(~positives, _FAR), dim=1)
    per_anchor = torch.where(anchors, log_all - log_positive, torch.zeros_like(log_all))
    return per_anchor.sum() / anchors.sum().clamp(min=1)


def answer_dist_readout(model, dropped: torch.Tensor, answer_temperature: float = 2.0) -> Callable[[torch.Tensor], torch.Tensor]:
    """states [B, H] -> the ``answer_dist`` embedding [B, H] (E^T softmax(lm_head(h) / T) over the kept tokens),
    differentiable, as ``pooling="answer_dist"`` computes it at inference."""
    head = base_lm(model).get_output_embeddings()

    def readout(states: torch.Tensor) -> torch.Tensor:
        probs = answer_distribution(head(states.to(head.weight.dtype)), dropped, answer_temperature)
        return expected_embedding(probs, head.weight)

    return readout


def training_losses(model, batch: dict[str, torch.Tensor], contrastive_weight: float = 0.0, temperature: float = 0.05,
                    readout: Callable[[torch.Tensor], torch.Tensor] | None = None):  # fmt: skip
    """(total, answer loss, contrastive loss) of a causal batch; the contrastive loss is 0 at weight 0.
    ``readout`` maps the fst_gen states to the embedding the term acts on (None: the states themselves)."""
    token_losses, states = causal_forward(model, batch, with_state=contrastive_weight > 0)
    answer = token_losses.mean()
    if contrastive_weight <= 0:
        return answer, answer, torch.zeros((), device=answer.device)
    with torch.autocast(device_type=states.device.type, enabled=False):  # similarities in fp32 under bf16 autocast
        embeddings = states.float() if readout is None else readout(states.float())
        contrastive = supervised_contrastive(embeddings, batch["groups"], batch["answers"], temperature)
    return answer + contrastive_weight * contrastive, answer, contrastive
