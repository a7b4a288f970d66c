"""Ranking metrics of one example: accuracy@k, recall@k and reciprocal rank."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from evals.metrics import accuracy_at_k, recall_at_k, reciprocal_rank


def ranking_metrics(
    ranked: Sequence[Any],
    expected: Iterable[Any],
    *,
    accuracy_ks: Sequence[int] = (1,),
    recall_ks: Sequence[int] = (3,),
) -> dict[str, float]:
    """{"accuracy@1": .., "recall@3": .., "rr": ..} for one ranked list against its expected items."""
    want = set(expected)
    if not want:
        raise ValueError("ranking_metrics needs at least one expected item")
    values = {f"accuracy@{k}": accuracy_at_k(ranked, want, k) for k in accuracy_ks}
    values.update({f"recall@{k}": recall_at_k(ranked, want, k) for k in recall_ks})
    values["rr"] = reciprocal_rank(ranked, want)
    return values
