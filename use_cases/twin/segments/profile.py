"""Measured profile of a cluster: the structured ``attributes`` dict and its summary text.

Relative figures (``*_index``) divide the cluster's mean by the whole table's mean,
so "high" and "low" mean the same thing on the demo data and on a user's own table:
index >= 1.3 is ``high``, <= 0.7 is ``low``, anything between is ``medium``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from statistics import median
from typing import Any

from domain.consumer import CREDIT_TIERS, EDUCATION_LEVELS, HOUSEHOLDS
from use_cases.twin.segments.model import AGE_BANDS, BAND_GENERATION, GENERATION_BANDS, age_band_of
from use_cases.twin.segments.records import CREDIT_USAGE_LEVELS, INCOME_BAND_VALUES, INCOME_BANDS

HIGH_INDEX = 1.3
LOW_INDEX = 0.7


@dataclass(frozen=True)
class Baseline:
    """Whole-table means the cluster indices are measured against."""

    income: float
    net_worth: float
    auto_balance: float
    spend: float
    giving_share: float


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def _income(r: dict[str, Any]) -> float:
    return float(INCOME_BAND_VALUES[INCOME_BANDS.index(r["income_band"])])


def baseline_of(records: list[dict[str, Any]]) -> Baseline:
    return Baseline(
        income=_mean([_income(r) for r in records]),
        net_worth=_mean([r["net_worth_decile"] for r in records]),
        auto_balance=_mean([r["auto_loan_balance"] for r in records]),
        spend=_mean([r["discretionary_spend"] for r in records]),
        giving_share=_mean([1.0 if r["political_giving"] > 0 else 0.0 for r in records]),
    )


def _shares(values: list[Any], order: tuple[Any, ...] | None = None) -> dict[str, float]:
    counts = Counter(values)
    keys = list(order) if order is not None else sorted(counts, key=lambda k: (-counts[k], str(k)))
    total = len(values)
    return {str(k): round(counts.get(k, 0) / total, 4) for k in keys}


def _dominant(shares: dict[str, float]) -> str:
    return max(shares, key=lambda k: shares[k])  # first key wins ties: shares keep a fixed order


def _index(value: float, base: float) -> float:
    return round(value / base, 3) if base > 0 else 1.0


def level_of(index: float) -> str:
    if index >= HIGH_INDEX:
        return "high"
    if index <= LOW_INDEX:
        return "low"
    return "medium"


def cluster_attributes(members: list[dict[str, Any]], base: Baseline, total: int) -> dict[str, Any]:
    """Structured profile of one cluster's member records."""
    ages = [r["age"] for r in members]
    band_shares = _shares([age_band_of(a) for a in ages], AGE_BANDS)
    generation_shares = {g: round(sum(band_shares[b] for b in bands), 4) for g, bands in GENERATION_BANDS.items()}
    income_idx = sorted(INCOME_BANDS.index(r["income_band"]) for r in members)
    auto_index = _index(_mean([r["auto_loan_balance"] for r in members]), base.auto_balance)
    income_index = _index(_mean([_income(r) for r in members]), base.income)
    wealth_index = _index(_mean([r["net_worth_decile"] for r in members]), base.net_worth)
    spend_index = _index(_mean([r["discretionary_spend"] for r in members]), base.spend)
    giving_share = _mean([1.0 if r["political_giving"] > 0 else 0.0 for r in members])
    donor_index = _index(giving_share, base.giving_share)
    tier_shares = _shares([r["credit_tier"] for r in members], CREDIT_TIERS)
    usage_shares = _shares([r["credit_usage"] for r in members], CREDIT_USAGE_LEVELS)
    household_shares = _shares([r["household"] for r in members], HOUSEHOLDS)
    education_shares = _shares([r["education"] for r in members], EDUCATION_LEVELS)
    region_shares = _shares([r["region"] for r in members])
    equity_share = _mean([1.0 if r["equity_balance"] == "high" else 0.0 for r in members])
    dominant_tier = _dominant(tier_shares)
    tier_members = [r["credit_quartile"] for r in members if r["credit_tier"] == dominant_tier]
    return {
        "size": len(members),
        "share": round(len(members) / total, 4),
        "age_mean": round(_mean(ages), 1),
        "age_median": int(median(ages)),
        "age_band_shares": band_shares,
        "dominant_age_band": _dominant(band_shares),
        "generation_shares": generation_shares,
        "dominant_generation": BAND_GENERATION[age_band_of(int(median(ages)))],
        "gender_shares": _shares([r["gender"] for r in members], ("Female", "Male")),
        "household_shares": household_shares,
        "dominant_household": _dominant(household_shares),
        "education_shares": education_shares,
        "dominant_education": _dominant(education_shares),
        "college_share": round(education_shares["Bachelor's degree"] + education_shares["Graduate degree"], 4),
        "ethnicity_shares": _shares([r["ethnicity"] for r in members]),
        "income_band": INCOME_BANDS[income_idx[len(income_idx) // 2]],
        "income_mean": int(round(_mean([_income(r) for r in members]), -2)),
        "income_index": income_index,
        "income_level": level_of(income_index),
        "net_worth_decile_median": int(median(r["net_worth_decile"] for r in members)),
        "net_worth_index": wealth_index,
        "wealth_level": level_of(wealth_index),
        "credit_tier_shares": tier_shares,
        "dominant_credit_tier": dominant_tier,
        "credit_quartile_median": int(median(tier_members)),
        "credit_usage_shares": usage_shares,
        "dominant_credit_usage": _dominant(usage_shares),
        "equity_high_share": round(equity_share, 4),
        "equity_balance": "high" if equity_share >= 0.5 else "low",
        "open_auto_loans_mean": round(_mean([r["open_auto_loans"] for r in members]), 2),
        "auto_loan_balance_mean": int(round(_mean([r["auto_loan_balance"] for r in members]), -1)),
        "auto_debt_index": auto_index,
        "auto_debt_level": level_of(auto_index),
        "discretionary_spend_median": int(median(r["discretionary_spend"] for r in members)),
        "spend_index": spend_index,
        "spend_level": level_of(spend_index),
        "political_giving_share": round(giving_share, 4),
        "political_giving_mean": int(round(_mean([r["political_giving"] for r in members]))),
        "political_donor_index": donor_index,
        "political_donor_level": level_of(donor_index),
        "homeowner_share": round(_mean([1.0 if r["homeowner"] else 0.0 for r in members]), 4),
        "region_shares": region_shares,
        "dominant_region": _dominant(region_shares),
        "country": Counter(r["country"] for r in members).most_common(1)[0][0],
    }


def _pct(x: float) -> str:
    return f"{round(x * 100)}%"


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def cluster_summary(a: dict[str, Any]) -> str:
    """Plain-language summary built only from the measured attributes."""
    band = a["dominant_age_band"]
    gen = a["dominant_generation"]
    tier = a["dominant_credit_tier"]
    debt = {"high": "High auto debt", "medium": "Moderate auto debt", "low": "Low auto debt"}[a["auto_debt_level"]]
    household = a["dominant_household"]
    education = a["dominant_education"]
    region = a["dominant_region"]
    return (
        f"Median age {a['age_median']} (mostly {gen}; {band}: {_pct(a['age_band_shares'][band])}), "
        f"{_pct(a['gender_shares']['Female'])} women. "
        f"Credit is mostly {tier} ({_pct(a['credit_tier_shares'][tier])}; median "
        f"{_ordinal(a['credit_quartile_median'])} quartile) with {a['dominant_credit_usage']} credit usage. "
        f"Typical household income {a['income_band']}; median net worth decile "
        f"{a['net_worth_decile_median']}. "
        f"{debt}: {a['open_auto_loans_mean']:.1f} open auto loans and "
        f"${a['auto_loan_balance_mean']:,} owed on average. "
        f"{_pct(a['homeowner_share'])} own their home; equity balance mostly {a['equity_balance']}. "
        f"Median discretionary spend ${a['discretionary_spend_median']:,} a year; "
        f"{_pct(a['political_giving_share'])} give to political causes. "
        f"Most common household: {household} ({_pct(a['household_shares'][household])}); "
        f"education: {education} ({_pct(a['education_shares'][education])}); "
        f"largest region: {region} ({_pct(a['region_shares'][region])}), {a['country']}."
    )
