"""Batches of similar length: fewer pad tokens per batch, the same results (padding never changes an embedding)."""

from __future__ import annotations

from collections.abc import Sequence


def longest_first_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Item indices in batches of ``batch_size``, longest first (ties keep their input order)."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    return [order[start : start + batch_size] for start in range(0, len(order), batch_size)]
