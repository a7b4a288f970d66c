"""Ranking metrics and 95% confidence intervals for eval results.

Per example, with `ranked` a list (best first) and `expected` a set:

- accuracy@k: 1 when any of the first k items is expected, else 0 (accuracy@1 is
  "the top answer is right"; for k > 1 this is the usual hit@k);
- recall@k: the share of the expected items found among the first k;
- reciprocal rank: 1 / rank of the first expected item, 0 when none is ranked
  (its mean over examples is MRR).

Aggregates (`summarize`) carry a 95% confidence interval:

- values that are all 0 or 1 (proportions: accuracy, hit rates, pass rates) get
  the Wilson score interval, exact and deterministic, well-behaved at 0 and 1;
- other values (MRR, similarity scores) get a percentile bootstrap of the mean
  with `BOOTSTRAP_RESAMPLES` resamples from a fixed seed (`BOOTSTRAP_SEED`), so
  the same values always give the same interval.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import BaseModel

Z_95 = 1.959963984540054
BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 20240611


class MetricSummary(BaseModel):
    """Mean of a metric over examples, with its 95% interval and how it was computed."""

    name: str
    mean: float
    low: float
    high: float
    n: int
    method: str  # "wilson" | "bootstrap" | "none"


def accuracy_at_k(ranked: Sequence[Any], expected: Iterable[Any], k: int) -> float:
    want = set(expected)
    return 1.0 if any(item in want for item in ranked[:k]) else 0.0


def recall_at_k(ranked: Sequence[Any], expected: Iterable[Any], k: int) -> float:
    want = set(expected)
    if not want:
        return 0.0
    return len(want & set(ranked[:k])) / len(want)


def reciprocal_rank(ranked: Sequence[Any], expected: Iterable[Any]) -> float:
    want = set(expected)
    for rank, item in enumerate(ranked, 1):
        if item in want:
            return 1.0 / rank
    return 0.0


def wilson_interval(successes: int, n: int, z: float = Z_95) -> tuple[float, float]:
    """Wilson score interval of a proportion; (0, 0) for n == 0."""
    if n == 0:
        return 0.0, 0.0
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    low = 0.0 if successes == 0 else max(0.0, centre - half)  # exact bounds at the edges,
    high = 1.0 if successes == n else min(1.0, centre + half)  # not 1 - 1e-16 from rounding
    return low, high


def bootstrap_interval(
    values: Sequence[float], *, resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED, level: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean, from a seeded generator."""
    n = len(values)
    if n == 0:
        return 0.0, 0.0
    if min(values) == max(values):  # constant values: the interval is that value, exactly
        return float(values[0]), float(values[0])
    rng = random.Random(seed)
    means = sorted(math.fsum(rng.choices(values, k=n)) / n for _ in range(resamples))
    tail = (1 - level) / 2
    low_i = int(math.floor(tail * (resamples - 1)))
    high_i = int(math.ceil((1 - tail) * (resamples - 1)))
    return means[low_i], means[high_i]


def is_proportion(values: Sequence[float]) -> bool:
    return all(v in (0, 1) for v in values)


def summarize(name: str, values: Sequence[float]) -> MetricSummary:
    """Mean with a 95% interval: Wilson for 0/1 values, seeded bootstrap otherwise."""
    vals = [float(v) for v in values]
    n = len(vals)
    if n == 0:
        return MetricSummary(name=name, mean=0.0, low=0.0, high=0.0, n=0, method="none")
    mean = math.fsum(vals) / n
    if is_proportion(vals):
        low, high = wilson_interval(int(sum(vals)), n)
        method = "wilson"
    else:
        low, high = bootstrap_interval(vals)
        method = "bootstrap"
    return MetricSummary(name=name, mean=mean, low=low, high=high, n=n, method=method)


def summarize_all(rows: Iterable[dict[str, float]]) -> dict[str, MetricSummary]:
    """One summary per metric name over the rows that carry it (missing = not applicable)."""
    columns: dict[str, list[float]] = {}
    for row in rows:
        for key, value in row.items():
            if value is not None:
                columns.setdefault(key, []).append(float(value))
    return {name: summarize(name, vals) for name, vals in columns.items()}
