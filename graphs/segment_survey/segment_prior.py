"""What a persona's segment says about a question its own record cannot answer.

A twin whose record lacks a fact (an import without home ownership, or a fact held out) still
belongs to a cluster whose stored shares say how its records split on it: 89% own their home,
41% hold a bachelor's degree. Where a cluster keeps only the mean of a count (open auto loans),
`prior_shares` reads it as a Poisson count. `segment_prior` turns those shares into a prior over
a question's options with the survey's own fact check: each stored value is tried as the
persona's fact, and its share goes to the options that value leaves open. The survey
multiplies the model's option probabilities, tempered (their square root:
`closed_answer.MODEL_WEIGHT`), by it (`closed_answer.with_prior`), so the small model's answer
is read in the light of the segment, as the twin's profile (which carries the segment summary)
asks it to be.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from graphs.segment_survey.fact_options import ruled_out

Shares = dict[str, dict[str, float]]  # fact key -> {fact value: share of the cluster's records}

# the cluster attributes holding the share of records with a yes/no fact, and the fact
_YES_SHARE_ATTRIBUTES = (
    ("homeowner_share", "homeowner"),
    ("political_giving_share", "political_donor"),
)
# the cluster attributes holding shares, and the fact each is a split of
_SHARE_ATTRIBUTES = (
    ("household_shares", "household"),
    ("education_shares", "education"),
    ("credit_tier_shares", "credit_tier"),
    ("region_shares", "region"),
)


def record_shares(cluster_attributes: Mapping[str, Any] | None) -> Shares:
    """The cluster's stored splits of its records, by fact key (what an import left out is absent)."""
    attributes = cluster_attributes or {}
    shares: Shares = {}
    for attribute, key in _YES_SHARE_ATTRIBUTES:
        share = attributes.get(attribute)
        if isinstance(share, (int, float)) and not isinstance(share, bool) and 0.0 <= share <= 1.0:
            shares[key] = {"yes": float(share), "no": 1.0 - float(share)}
    for attribute, key in _SHARE_ATTRIBUTES:
        split = attributes.get(attribute)
        if isinstance(split, Mapping) and split:
            shares[key] = {str(v): float(s) for v, s in split.items() if isinstance(s, (int, float)) and s > 0}
    return {k: v for k, v in shares.items() if v}


# A count whose records the cluster keeps only as a mean, and the fact it is a count of.
_COUNT_MEANS = (("open_auto_loans_mean", "auto_loans"),)
COUNT_TAIL = 5  # the last count stands for itself and every count above it


def poisson_split(mean: float, tail: int = COUNT_TAIL) -> dict[str, float]:
    """Shares of the counts 0 .. `tail` (the last one: `tail` or more) for a Poisson count."""
    split: dict[str, float] = {}
    term = math.exp(-mean)
    for count in range(tail):
        split[str(count)] = term
        term *= mean / (count + 1)
    split[str(tail)] = max(0.0, 1.0 - sum(split.values()))
    return {k: v for k, v in split.items() if v > 0}


def prior_shares(cluster_attributes: Mapping[str, Any] | None) -> Shares:
    """What the segment prior reads: the stored splits (`record_shares`) and, for a count the
    cluster keeps only as a mean (open auto loans), a Poisson split of that mean, whose share
    with none is e^-mean. The Poisson split is a model of the records, not their split, so
    raking (`graphs.segment_survey.raking`) does not fit weights to it."""
    attributes = cluster_attributes or {}
    shares = record_shares(attributes)
    for attribute, key in _COUNT_MEANS:
        mean = attributes.get(attribute)
        if key in shares or isinstance(mean, bool) or not isinstance(mean, (int, float)):
            continue
        if math.isfinite(mean) and mean >= 0:
            shares[key] = poisson_split(float(mean))
    return shares


def segment_prior(question: str, options: Sequence[str], shares: Shares) -> dict[str, float] | None:
    """A distribution over `options` from the first stored split the question is about, or None
    when the question is about none of them. Each value's share is spread evenly over the options
    it leaves open; an option no value rules out ("Other", a wording the check cannot read)
    says nothing about the split, so it gets the mean of the others rather than every share."""
    for key, split in shares.items():
        ruled_by = {value: ruled_out(question, options, {key: value}) for value in split}
        ever_ruled = {o for ruled in ruled_by.values() for o in ruled}
        read = [o for o in options if o in ever_ruled]
        if not read:
            continue
        prior = dict.fromkeys(options, 0.0)
        for value, share in split.items():
            kept = [o for o in read if o not in ruled_by[value]]
            for option in kept:
                prior[option] += share / len(kept)
        mean = sum(prior.values()) / len(read)
        for option in options:
            if option not in ever_ruled:
                prior[option] = mean
        total = sum(prior.values())
        if total > 0:
            return {o: p / total for o, p in prior.items()}
    return None
