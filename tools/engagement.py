"""Engagement scoring, engagement-weighted exemplar picking, and held-out splits.

Posts are mappings (e.g. rows or JSON objects) or objects with attributes named
`likes`, `reposts`, `replies`, `views`; a missing or None metric counts as 0.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple, TypeVar

T = TypeVar("T")

ENGAGEMENT_WEIGHTS: dict[str, float] = {"likes": 1.0, "reposts": 2.0, "replies": 3.0, "views": 0.01}


def engagement_score(likes: int, reposts: int, replies: int, views: int) -> float:
    """`ln(1 + likes + 2*reposts + 3*replies + 0.01*views)`.

    Replies and reposts cost the reader more effort than a like, so they weigh
    more; views are cheap and numerous. The log damps viral outliers so one
    post cannot dominate exemplar selection. Negative counts raise ValueError.
    """
    values = {"likes": likes, "reposts": reposts, "replies": replies, "views": views}
    if any(v < 0 for v in values.values()):
        raise ValueError(f"engagement counts must be >= 0, got {values}")
    raw = math.fsum(ENGAGEMENT_WEIGHTS[k] * v for k, v in values.items())
    return math.log1p(raw)


def _metric(post: Any, name: str) -> int:
    value = post.get(name) if isinstance(post, Mapping) else getattr(post, name, None)
    return int(value or 0)


def post_engagement(post: Any) -> float:
    """`engagement_score` of one post read from its metric fields."""
    return engagement_score(*(_metric(post, k) for k in ("likes", "reposts", "replies", "views")))


def pick_exemplars(posts: Sequence[T], k: int, seed: int) -> list[T]:
    """Pick up to `k` distinct posts, sampled without replacement with weight
    `1 + post_engagement(post)`, returned by descending engagement.

    Weighted sampling (Efraimidis-Spirakis keys `u ** (1 / w)`) rather than a
    plain top-k keeps some ordinary posts in the mix, so the persona learns the
    account's everyday voice and not only its hits. The `+1` keeps
    zero-engagement posts eligible. Same posts and seed give the same result.
    """
    if k <= 0 or not posts:
        return []
    rng = random.Random(seed)
    scores = [post_engagement(p) for p in posts]
    keys = [rng.random() ** (1.0 / (1.0 + s)) for s in scores]
    chosen = sorted(range(len(posts)), key=lambda i: (-keys[i], i))[:k]
    chosen.sort(key=lambda i: (-scores[i], i))
    return [posts[i] for i in chosen]


class HoldoutSplit(NamedTuple):
    train: list[Any]
    heldout: list[Any]


def split_holdout(posts: Sequence[T], fraction: float, seed: int) -> HoldoutSplit:
    """Hold out `round(len(posts) * fraction)` posts (at least 1 when there are
    2+ posts and fraction > 0, never all), chosen by a seeded shuffle.

    Both parts keep the input order. Raises ValueError unless 0 <= fraction < 1.
    """
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"fraction must be in [0, 1), got {fraction}")
    n = len(posts)
    size = round(n * fraction)
    if fraction > 0 and n >= 2:
        size = min(max(size, 1), n - 1)
    else:
        size = min(size, max(n - 1, 0))
    order = list(range(n))
    random.Random(seed).shuffle(order)
    held = set(order[:size])
    return HoldoutSplit(
        train=[p for i, p in enumerate(posts) if i not in held],
        heldout=[p for i, p in enumerate(posts) if i in held],
    )
