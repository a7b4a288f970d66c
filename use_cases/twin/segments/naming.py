"""Cluster names: "<credit tier> <most distinguishing trait> <generation>".

A trait is eligible only when the cluster's own figures back it (e.g. "Auto-Heavy"
needs ``auto_debt_level == "high"``); eligible traits are ranked by how far the
cluster stands from the other clusters (z-score across clusters). Collisions take
the cluster's next-best trait, so names are unique.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from statistics import mean, pstdev
from typing import Any


def _log(index: float) -> float:
    # Indices are ratios to the table mean: compare them on a log scale so that
    # "a tenth of the average" stands out as much as "ten times the average".
    return math.log(max(index, 0.01))


TIER_WORDS = {"Sub Prime": "Sub-Prime", "Near Prime": "Near-Prime", "Prime": "Prime", "Super Prime": "Super-Prime"}


@dataclass(frozen=True)
class _Trait:
    label: str
    value: Callable[[dict[str, Any]], float]
    sign: int  # +1: higher value is more of the trait
    backed: Callable[[dict[str, Any]], bool]


_TRAITS: tuple[_Trait, ...] = (
    _Trait("Auto-Heavy", lambda a: _log(a["auto_debt_index"]), 1, lambda a: a["auto_debt_level"] == "high"),
    _Trait(
        "Debt-Free",
        lambda a: _log(a["auto_debt_index"]),
        -1,
        lambda a: a["auto_debt_level"] == "low" and a["dominant_credit_usage"] == "low",
    ),
    _Trait("Affluent", lambda a: _log(a["income_index"]), 1, lambda a: a["income_level"] == "high"),
    _Trait("Low-Income", lambda a: _log(a["income_index"]), -1, lambda a: a["income_level"] == "low"),
    _Trait("Wealthy", lambda a: _log(a["net_worth_index"]), 1, lambda a: a["wealth_level"] == "high"),
    _Trait("Big-Spending", lambda a: _log(a["spend_index"]), 1, lambda a: a["spend_level"] == "high"),
    _Trait("Donor", lambda a: _log(a["political_donor_index"]), 1, lambda a: a["political_donor_level"] == "high"),
    _Trait("Homeowner", lambda a: a["homeowner_share"], 1, lambda a: a["homeowner_share"] >= 0.7),
    _Trait("Renter", lambda a: a["homeowner_share"], -1, lambda a: a["homeowner_share"] <= 0.3),
    _Trait(
        "Family",
        lambda a: a["household_shares"]["Family with children"],
        1,
        lambda a: a["dominant_household"] == "Family with children",
    ),
    _Trait(
        "Single-Parent",
        lambda a: a["household_shares"]["Single parent"],
        1,
        lambda a: a["dominant_household"] == "Single parent",
    ),
    _Trait("Single", lambda a: a["household_shares"]["Single"], 1, lambda a: a["dominant_household"] == "Single"),
    _Trait(
        "Graduate-Educated",
        lambda a: a["education_shares"]["Graduate degree"],
        1,
        lambda a: a["dominant_education"] == "Graduate degree",
    ),
)
FALLBACK_TRAIT = "Mainstream"


def generation_noun(a: dict[str, Any]) -> str:
    # The oldest clusters read better as "Seniors" than as "Boomers".
    return "Seniors" if a["age_median"] >= 75 else a["dominant_generation"]


def _ranked_traits(index: int, profiles: list[dict[str, Any]]) -> list[str]:
    a = profiles[index]
    scored: list[tuple[float, str]] = []
    for trait in _TRAITS:
        if not trait.backed(a):
            continue
        values = [trait.value(p) for p in profiles]
        spread = pstdev(values) or 1.0
        scored.append((trait.sign * (trait.value(a) - mean(values)) / spread, trait.label))
    scored.sort(key=lambda s: (-s[0], s[1]))
    return [label for _, label in scored] + [FALLBACK_TRAIT]


def name_clusters(profiles: list[dict[str, Any]]) -> list[str]:
    """One unique name per profile, in the profiles' order."""
    names: list[str | None] = [None] * len(profiles)
    used: set[str] = set()
    # Bigger clusters choose first: they are the ones a reader meets most.
    order = sorted(range(len(profiles)), key=lambda i: (-profiles[i]["size"], i))
    for i in order:
        a = profiles[i]
        stem_tier, noun = TIER_WORDS.get(a["dominant_credit_tier"], a["dominant_credit_tier"]), generation_noun(a)
        candidates = [f"{stem_tier} {t} {noun}" for t in _ranked_traits(i, profiles)]
        name = next((c for c in candidates if c not in used), None)
        n = 2
        while name is None:  # every trait taken: number the fallback
            name = f"{stem_tier} {FALLBACK_TRAIT} {noun} {n}"
            name = None if name in used else name
            n += 1
        names[i] = name
        used.add(name)
    return [n for n in names if n is not None]
