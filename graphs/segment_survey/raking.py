"""Raking: persona weights that reproduce every split a cluster stores, not just its cells.

A cluster's 15 personas are a small sample of its records: their mix of region, education,
credit tier, household, home ownership and political giving is not the cluster's, so weighting
them by their (gender, age band) cell alone leaves those splits as the sample drew them. Raking
starts from the cell weights (`weights.persona_weights`) and scales them until the weighted
personas split like the cluster's records on gender, age band and every split
`segment_prior.record_shares` reads (margins named in `exclude` are left alone). A record
table's twins are raked to every column split their cluster stores (`value_shares`): on ANES
2012 this brought the twins' own answers closer to their clusters' on the columns they were
raked to and left held-out questions where they were (docs/twins-from-tables.md).

- Margins are fitted in turn (iterative proportional fitting), at most `MAX_SWEEPS` sweeps.
  A few personas often cannot meet every split at once: fitting in turn then ends on whichever
  margin comes last and can leave the first (age band) further off than the cell weights were.
  So when a margin is still more than `FIT_TOLERANCE` off, the margins are fitted at once
  instead (generalised iterative scaling: each sweep scales a weight by the geometric mean of
  the factors the margins ask of it), which spreads the misfit over every split.
- A persona whose facts lack a margin's fact (or hold a value its split does not name) is left
  out of that margin: the "unknown" group keeps its total and the known personas share the rest.
- A category no positively weighted persona has cannot be reached: it is dropped and the
  target renormalised over the categories present.
- After each sweep the weights are trimmed to at most `TRIM_RATIO` times their mean. Raking a
  handful of people to several margins can load one persona of a rare category with a third
  of the cluster: Kish's effective size (sum w)^2 / sum w^2 then collapses, the intervals widen
  and one answer decides the share. With the cap, sum w^2 <= cap * sum w, so the effective
  size stays at least (personas weighted) / TRIM_RATIO; the margins are met as nearly as the
  cap allows.
- Whatever cannot be raked (no stored splits, only zero or non-finite weights) keeps the cell
  weights, which themselves fall back to equal weights.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

from graphs.persona_chat.facts import STATE_REGION, normalise_tier
from graphs.segment_survey.segment_prior import record_shares
from graphs.segment_survey.weights import persona_weights

Weighting = Literal["raked", "age_gender"]
WEIGHTINGS: tuple[str, ...] = get_args(Weighting)
DEFAULT_WEIGHTING: Weighting = "raked"

MAX_SWEEPS = 50  # sweeps of fitting the margins in turn
BALANCED_SWEEPS = 300  # sweeps of fitting them at once, which moves in smaller steps
TOLERANCE = 1e-9  # largest change of any weight in a sweep at which fitting has converged
FIT_TOLERANCE = 0.005  # a margin this close (total variation distance) counts as met
TRIM_RATIO = 5.0


@dataclass(frozen=True)
class Margin:
    """One split to match: each persona's category (None: unknown) and the target shares."""

    name: str
    categories: tuple[str | None, ...]
    target: Mapping[str, float]


def category(key: str, value: Any) -> str | None:
    """A fact value or a stored split's key in one spelling, so "Prime" meets "prime" and
    True meets "yes"."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = " ".join(str(value).split()).lower()
    return normalise_tier(text) if key == "credit_tier" else text


def fact_value(facts: Mapping[str, Any], key: str) -> Any:
    """The persona's value of a split's fact; a region may come from the persona's state."""
    value = facts.get(key)
    if value is None and key == "region":
        value = STATE_REGION.get(str(facts.get("state", "")).lower())
    return value


def _target(key: str, split: Mapping[str, Any]) -> dict[str, float]:
    target: dict[str, float] = {}
    for value, share in split.items():
        name = category(key, value)
        if name is not None and isinstance(share, (int, float)) and math.isfinite(share) and share > 0:
            target[name] = target.get(name, 0.0) + float(share)
    return target


def _margin(
    name: str, values: Sequence[str | None], target: Mapping[str, float], start: Sequence[float]
) -> Margin | None:
    """The margin over the categories weighted personas have, or None when it says nothing."""
    categories = tuple(v if v in target else None for v in values)
    present = {c for c, w in zip(categories, start, strict=True) if c is not None and w > 0}
    kept = {c: s for c, s in target.items() if c in present}
    total = sum(kept.values())
    if len(kept) < 2 or total <= 0:  # one category (or none) leaves every weight as it is
        return None
    return Margin(name, categories, {c: s / total for c, s in kept.items()})


def cluster_margins(
    cells: Sequence[tuple[str, str]],
    facts: Sequence[Mapping[str, Any]],
    attributes: Mapping[str, Any] | None,
    start: Sequence[float],
    exclude: Collection[str] = (),
    records: Sequence[Mapping[str, Any]] | None = None,
) -> list[Margin]:
    """The margins a cluster's stored shares give: gender, age band, each stored split of a
    fact (`record_shares`) and, for a table's twins, each column's split (read from each
    persona's `records` values), less those named in `exclude`."""
    attributes = attributes or {}
    splits: list[tuple[str, list[str | None], Any]] = [
        ("gender", [category("gender", g) for g, _ in cells], attributes.get("gender_shares")),
        ("age_band", [category("age_band", b) for _, b in cells], attributes.get("age_band_shares")),
    ]
    for key, split in record_shares(attributes).items():
        splits.append((key, [category(key, fact_value(f, key)) for f in facts], split))
    margins: list[Margin] = []
    for name, values, split in splits:
        if name in exclude or not isinstance(split, Mapping):
            continue
        margin = _margin(name, values, _target(name, split), start)
        if margin is not None:
            margins.append(margin)
    if records is not None:
        margins.extend(table_column_margins(records, attributes, start, exclude))
    return margins


def table_column_margins(
    records: Sequence[Mapping[str, Any]],
    attributes: Mapping[str, Any],
    start: Sequence[float],
    exclude: Collection[str],
) -> list[Margin]:
    """A margin per column of a table's cluster split (`value_shares`: {column: {value: share}}),
    each persona's category read from its record's value, less the columns in `exclude`."""
    value_shares = attributes.get("value_shares")
    if not isinstance(value_shares, Mapping):
        return []
    margins: list[Margin] = []
    for column, split in value_shares.items():
        if column in exclude or not isinstance(split, Mapping):
            continue
        values = [category(column, record.get(column)) for record in records]
        margin = _margin(column, values, _target(column, split), start)
        if margin is not None:
            margins.append(margin)
    return margins


def _category_sums(weights: Sequence[float], margin: Margin) -> dict[str, float]:
    """The weight of the personas in each category (those of unknown category left out)."""
    sums: dict[str, float] = {}
    for c, w in zip(margin.categories, weights, strict=True):
        if c is not None:
            sums[c] = sums.get(c, 0.0) + w
    return sums


def fit_margin(weights: Sequence[float], margin: Margin) -> list[float]:
    """Scale the known personas' weights so their categories split as the target says; the
    unknown ones, and the known ones' total, stay as they are."""
    sums = _category_sums(weights, margin)
    known = sum(sums.values())
    if known <= 0:
        return list(weights)
    out = list(weights)
    for i, c in enumerate(margin.categories):
        if c is not None and sums[c] > 0:
            out[i] = weights[i] * known * margin.target.get(c, 0.0) / sums[c]
    return out


def trim(weights: Sequence[float], ratio: float) -> list[float]:
    """Cap every weight at `ratio` times the mean positive weight (at least that mean), handing
    what is cut to the uncapped weights in proportion, so the total stays."""
    positive = [w for w in weights if w > 0]
    if not positive:
        return list(weights)
    total = sum(positive)
    cap = max(ratio, 1.0) * total / len(positive)
    out = list(weights)
    for _ in range(len(out)):
        excess = sum(w - cap for w in out if w > cap)
        if excess <= cap * 1e-12:
            break
        out = [min(w, cap) for w in out]
        free = sum(w for w in out if 0 < w < cap)
        if free <= 0:
            break
        out = [w + excess * w / free if 0 < w < cap else w for w in out]
    return out


def misfit(weights: Sequence[float], margin: Margin) -> float:
    """Total variation distance between the known personas' weighted split and the target."""
    sums = _category_sums(weights, margin)
    known = sum(sums.values())
    if known <= 0:
        return 0.0
    return 0.5 * sum(abs(sums.get(c, 0.0) / known - t) for c, t in margin.target.items())


def _normalised(weights: Sequence[float]) -> list[float] | None:
    total = sum(weights)
    if not math.isfinite(total) or total <= 0 or not all(math.isfinite(w) and w >= 0 for w in weights):
        return None
    return [w / total for w in weights]


def _sweeps(
    start: Sequence[float],
    margins: Sequence[Margin],
    step: Callable[[list[float], Sequence[Margin]], list[float]],
    max_sweeps: int,
    tolerance: float,
    trim_ratio: float | None,
) -> list[float] | None:
    """`step` repeated (each sweep trimmed) until no weight moves by `tolerance`; None on a
    non-finite or all-zero result."""
    weights = _normalised(start)
    for _ in range(max_sweeps):
        if weights is None:
            return None
        before = weights
        weights = _normalised(step(weights, margins))
        if weights is not None and trim_ratio is not None:
            weights = _normalised(trim(weights, trim_ratio))
        if weights is not None and max(abs(a - b) for a, b in zip(weights, before, strict=True)) < tolerance:
            break
    return weights


def _in_turn(weights: list[float], margins: Sequence[Margin]) -> list[float]:
    """Iterative proportional fitting: each margin fitted exactly, one after the other."""
    for margin in margins:
        weights = fit_margin(weights, margin)
    return weights


def _at_once(weights: list[float], margins: Sequence[Margin]) -> list[float]:
    """Every weight scaled by the geometric mean of the factors the margins ask of it."""
    logs = [0.0] * len(weights)
    for margin in margins:
        for i, (old, new) in enumerate(zip(weights, fit_margin(weights, margin), strict=True)):
            if old > 0 and new > 0:
                logs[i] += math.log(new / old) / len(margins)
    return [w * math.exp(g) for w, g in zip(weights, logs, strict=True)]


def rake(
    start: Sequence[float],
    margins: Sequence[Margin],
    *,
    max_sweeps: int = MAX_SWEEPS,
    tolerance: float = TOLERANCE,
    trim_ratio: float | None = TRIM_RATIO,
) -> list[float] | None:
    """Weights from `start` fitted to the margins, summing to 1: in turn, or at once when in
    turn leaves a margin more than `FIT_TOLERANCE` off; None when no positive, finite weights
    come out."""
    weights = _sweeps(start, margins, _in_turn, max_sweeps, tolerance, trim_ratio)
    if weights is None or all(misfit(weights, m) <= FIT_TOLERANCE for m in margins):
        return weights
    return _sweeps(start, margins, _at_once, BALANCED_SWEEPS, tolerance, trim_ratio)


def raked_weights(
    cells: Sequence[tuple[str, str]],
    facts: Sequence[Mapping[str, Any]],
    attributes: Mapping[str, Any] | None,
    *,
    exclude: Collection[str] = (),
    trim_ratio: float | None = TRIM_RATIO,
    stands_for: Sequence[float | None] | None = None,
    records: Sequence[Mapping[str, Any]] | None = None,
) -> list[float]:
    """One weight per persona (its (gender, age band) cell and its facts, in order), summing to
    1: the cell weights raked to every stored split but those in `exclude` (fact keys, column
    names, or "gender" / "age_band"); the cell weights when no split can be raked. A table's
    twins pass their `records` (values by column) to be raked to every column split too."""
    start = persona_weights(cells, attributes, stands_for)
    if not start:
        return []
    if len(facts) != len(cells) or (records is not None and len(records) != len(cells)):
        raise ValueError("raked_weights needs one facts mapping (and record) per persona")
    margins = cluster_margins(cells, facts, attributes, start, exclude, records)
    if not margins:
        return start
    raked = rake(start, margins, trim_ratio=trim_ratio)
    return raked if raked is not None else start


def survey_weights(
    cells: Sequence[tuple[str, str]],
    facts: Sequence[Mapping[str, Any]],
    attributes: Mapping[str, Any] | None,
    weighting: Weighting = DEFAULT_WEIGHTING,
    stands_for: Sequence[float | None] | None = None,
    records: Sequence[Mapping[str, Any]] | None = None,
) -> list[float]:
    """The weights a survey's `weighting` asks for: "raked" or "age_gender" (the cells, or the
    shares representatives stand for, only)."""
    if weighting == "age_gender":
        return persona_weights(cells, attributes, stands_for)
    return raked_weights(cells, facts, attributes, stands_for=stands_for, records=records)
