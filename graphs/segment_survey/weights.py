"""How much each persona's answer counts, and what a cluster's weighted answers add up to.

A persona stands for the records of its cell: its gender and age band. Clusters record the
share of their records in each gender (`gender_shares`) and each age band (`age_band_shares`);
a cell's share is their product (the cluster keeps no joint table, so the two are taken as
independent inside a cluster), split evenly between the personas of that cell (the demo
pattern has two men aged 25 - 34), and the weights of a cluster's personas are scaled to sum
to 1. A cluster without those shares (an import that left them out) weighs its personas equally.
Twins built from a table without gender and age columns are representatives instead: each
carries the share of its cluster's records it `stands_for`, and those shares are its weights.

The 95% interval of a weighted share is Wilson's score interval on Kish's effective sample
size n_eff = (sum w)^2 / sum w^2 over the personas: unequal weights count as fewer
respondents, and repeated samples of one persona add no respondents.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

Z95 = 1.959963984540054


def persona_weights(
    cells: Sequence[tuple[str, str]],
    attributes: Mapping[str, Any] | None,
    stands_for: Sequence[float | None] | None = None,
) -> list[float]:
    """One weight per persona (given as (gender, age band) cells, in order), summing to 1: the
    personas' `stands_for` shares when every one has a positive share, else by cell."""
    if not cells:
        return []
    if stands_for and len(stands_for) == len(cells):
        shares = [float(s) if isinstance(s, (int, float)) and math.isfinite(s) else 0.0 for s in stands_for]
        if all(s > 0 for s in shares):
            return [s / sum(shares) for s in shares]
    attributes = attributes or {}
    genders = attributes.get("gender_shares") or {}
    bands = attributes.get("age_band_shares") or {}
    counts = Counter(cells)
    raw = [
        float(genders.get(gender, 0.0) or 0.0) * float(bands.get(band, 0.0) or 0.0) / counts[(gender, band)]
        for gender, band in cells
    ]
    total = sum(raw)
    if not math.isfinite(total) or total <= 0:
        return [1.0 / len(cells)] * len(cells)
    return [w / total for w in raw]


def effective_size(weights: Sequence[float]) -> float:
    """Kish's effective sample size of positively weighted respondents."""
    positive = [w for w in weights if w > 0]
    squares = sum(w * w for w in positive)
    return (sum(positive) ** 2) / squares if squares > 0 else 0.0


def wilson_interval(share: float, n: float, z: float = Z95) -> tuple[float, float]:
    """Wilson's score interval of a proportion for a (possibly fractional) sample size."""
    if n <= 0:
        return (0.0, 1.0)
    share = min(1.0, max(0.0, share))
    denominator = 1 + z * z / n
    centre = (share + z * z / (2 * n)) / denominator
    half = z / denominator * math.sqrt(share * (1 - share) / n + z * z / (4 * n * n))
    return (max(0.0, centre - half), min(1.0, centre + half))


def weighted_distribution(
    options: Sequence[str], answers: Sequence[tuple[str, float]]
) -> tuple[dict[str, float], float]:
    """(share of each option among weighted answers, total weight); answers are (option, weight)."""
    total = sum(w for _, w in answers)
    if total <= 0:
        return ({o: 0.0 for o in options}, 0.0)
    shares = {o: 0.0 for o in options}
    for option, weight in answers:
        shares[option] += weight / total
    return shares, total


def confidence_intervals(
    distribution: Mapping[str, float], persona_weights_used: Sequence[float]
) -> dict[str, tuple[float, float]]:
    """A 95% Wilson interval per option (rounded to 4 decimals), n = Kish's effective size."""
    n = effective_size(persona_weights_used)
    out: dict[str, tuple[float, float]] = {}
    for option, share in distribution.items():
        low, high = wilson_interval(share, n)
        out[option] = (round(low, 4), round(high, 4))
    return out
