"""Stylometric similarity of generated posts to an account's real posts.

Uses `tools.style_similarity` (char n-grams, function words, stylometrics). An
output passes when it is closer to its own account's held-out posts than to
every other account's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from tools.style_similarity import style_similarity


def style_metrics(outputs: Sequence[str], own: Sequence[str], others: Mapping[str, Sequence[str]]) -> dict[str, float]:
    """{"style_own": similarity to own posts, "style_margin": own minus the best other,
    "closer_to_own": 1.0 when own beats every other account}."""
    texts = [t for t in outputs if t and t.strip()] or ["(empty)"]
    own_score = style_similarity(list(texts), list(own)).combined
    other_scores = [style_similarity(list(texts), list(posts)).combined for posts in others.values() if posts]
    best_other = max(other_scores, default=0.0)
    return {
        "style_own": own_score,
        "style_margin": own_score - best_other,
        "closer_to_own": 1.0 if own_score > best_other else 0.0,
    }
