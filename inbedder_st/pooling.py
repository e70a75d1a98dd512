"""Poolings of the paper (reference section 2): hidden states + masks in, one vector per example out.

Conventions (decoder-only, left-padded):
- ``prompt_states`` [B, P, H] with ``prompt_mask`` [B, P]; the last column is every prompt's last token,
  whose state predicts the first answer token.
- ``answer_states`` [B, T, H] with ``keep`` [B, T]: column 0 is that last prompt state (always kept),
  column t >= 1 is the state at generated token t, kept only when the token it predicts (t + 1) is neither
  special nor a filter word -- the paper's rule.
"""

from __future__ import annotations

import torch

POOLINGS = ("fst_gen", "avg_gen", "last_gen", "avg_ppt", "avg_all")
NEEDS_GENERATION = frozenset({"avg_gen", "last_gen", "avg_all"})


def check_pooling(name: str) -> str:
    if name not in POOLINGS:
        raise ValueError(f"Unknown pooling {name!r}. Valid choices: {list(POOLINGS)}.")
    return name


def fst_gen(prompt_states: torch.Tensor) -> torch.Tensor:
    return prompt_states[:, -1]


def _masked_sum(states: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    mask = mask.to(states.dtype).unsqueeze(-1)
    return (states * mask).sum(1), mask.sum(1)


def _prompt_body(prompt_states: torch.Tensor, prompt_mask: torch.Tensor):
    """Sum and count of the prompt states without the last prompt token."""
    return _masked_sum(prompt_states[:, :-1], prompt_mask[:, :-1])


def avg_ppt(prompt_states: torch.Tensor, prompt_mask: torch.Tensor) -> torch.Tensor:
    total, count = _prompt_body(prompt_states, prompt_mask)
    # A one-token prompt has no body: fall back to its only state instead of dividing by zero.
    return torch.where(count > 0, total / count.clamp(min=1), fst_gen(prompt_states))


def avg_gen(answer_states: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    total, count = _masked_sum(answer_states, keep)
    return total / count


def last_gen(answer_states: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    # Index of the last kept column; column 0 is always kept, so a row whose whole answer was
    # filtered falls back to the first-answer-token state (the reference indexes past the end there).
    positions = torch.arange(keep.shape[1], device=keep.device).expand_as(keep)
    last = torch.where(keep.bool(), positions, torch.zeros_like(positions)).max(dim=1).values
    return answer_states[torch.arange(answer_states.shape[0], device=keep.device), last]


def avg_all(
    prompt_states: torch.Tensor, prompt_mask: torch.Tensor, answer_states: torch.Tensor, keep: torch.Tensor
) -> torch.Tensor:
    body_sum, body_count = _prompt_body(prompt_states, prompt_mask)
    answer_sum, answer_count = _masked_sum(answer_states, keep)
    return (body_sum + answer_sum) / (body_count + answer_count)


def pool(
    name: str,
    prompt_states: torch.Tensor,
    prompt_mask: torch.Tensor,
    answer_states: torch.Tensor | None = None,
    keep: torch.Tensor | None = None,
) -> torch.Tensor:
    """Dispatch by pooling name; generation-based poolings need ``answer_states`` and ``keep``."""
    check_pooling(name)
    if name in NEEDS_GENERATION and (answer_states is None or keep is None):
        raise ValueError(f"Pooling {name!r} needs the answer states from generation.")
    if name == "fst_gen":
        return fst_gen(prompt_states)
    if name == "avg_ppt":
        return avg_ppt(prompt_states, prompt_mask)
    if name == "avg_gen":
        return avg_gen(answer_states, keep)
    if name == "last_gen":
        return last_gen(answer_states, keep)
    return avg_all(prompt_states, prompt_mask, answer_states, keep)
