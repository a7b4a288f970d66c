"""A studio persona's rag settings: which thresholds fit which metric, and which document
collections a persona may name (existing ones its caller manages)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from runtime.errors import ServiceError
from store import documents as docs_store
from store.types import Pool
from use_cases.studio.access import CurrentUser


def threshold_problem(metric: str, threshold: float | None) -> str | None:
    """Why `threshold` does not fit `metric`, or None when it does (None = the metric's default)."""
    if threshold is None:
        return None
    if metric == "cosine" and not -1.0 <= threshold <= 1.0:
        return f"query_threshold {threshold:g} does not fit query_metric cosine: it is a similarity between -1 and 1"
    if metric == "euclidean" and threshold < 0:
        return f"query_threshold {threshold:g} does not fit query_metric euclidean: it is a distance >= 0"
    return None


def merge_rag(stored: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    """The stored settings with the given keys replaced. The range of a threshold depends on the
    metric, so the merged settings are checked: a partial update is judged against the stored
    metric (or the stored threshold), not a default."""
    merged = {**stored, **given}
    problem = threshold_problem(merged.get("query_metric") or "cosine", merged.get("query_threshold"))
    if problem:
        raise ServiceError(f"Invalid rag settings after the update: {problem}", status=422)
    return merged


def unknown_collections(names: Sequence[str]) -> ServiceError:
    return ServiceError(f"Unknown collection(s) in rag.db_collections: {', '.join(names)}")


async def check_collections(pool: Pool, user: CurrentUser, names: Sequence[str]) -> None:
    """Every named collection must exist and (for a builder) be theirs; one message for both,
    so a builder learns nothing about other users' collections."""
    found = await docs_store.existing_collections(pool, names)
    bad = [n for n in names if n not in found or not user.may_manage(found[n])]
    if bad:
        raise unknown_collections(sorted(set(bad)))
