"""Numeric encoding of consumer records for clustering.

Gender, ethnicity and geography are left out on purpose: segments are behavioural
(credit, debt, wealth, life stage), and every segment needs both women and men for
its personas.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from domain.consumer import CREDIT_TIERS, EDUCATION_LEVELS, HOUSEHOLDS
from use_cases.twin.segments.records import CREDIT_USAGE_LEVELS, INCOME_BANDS

# (column, weight): weights say how much each standardised column pulls the clusters.
_NUMERIC: tuple[tuple[str, float], ...] = (
    ("age", 1.8),
    ("income", 1.1),
    ("net_worth", 1.0),
    ("credit", 1.5),
    ("usage", 0.8),
    ("equity", 0.7),
    ("homeowner", 0.8),
    ("auto_loans", 0.8),
    ("auto_balance", 1.0),
    ("spend", 0.8),
    ("gives", 0.5),
    ("education", 0.7),
)
_HOUSEHOLD_WEIGHT = 0.6


def _row(r: dict[str, Any]) -> list[float]:
    credit = CREDIT_TIERS.index(r["credit_tier"]) + (r["credit_quartile"] - 0.5) / 4.0
    values = {
        "age": float(r["age"]),
        "income": float(INCOME_BANDS.index(r["income_band"])),
        "net_worth": float(r["net_worth_decile"]),
        "credit": credit,
        "usage": float(CREDIT_USAGE_LEVELS.index(r["credit_usage"])),
        "equity": 1.0 if r["equity_balance"] == "high" else 0.0,
        "homeowner": 1.0 if r["homeowner"] else 0.0,
        "auto_loans": float(r["open_auto_loans"]),
        "auto_balance": math.log1p(r["auto_loan_balance"]),
        "spend": math.log1p(r["discretionary_spend"]),
        "gives": 1.0 if r["political_giving"] > 0 else 0.0,
        "education": float(EDUCATION_LEVELS.index(r["education"])),
    }
    household = [1.0 if r["household"] == h else 0.0 for h in HOUSEHOLDS]
    return [values[name] for name, _ in _NUMERIC] + household


def encode_features(records: list[dict[str, Any]]) -> np.ndarray:
    """Standardised, weighted feature matrix (one row per record)."""
    raw = np.array([_row(r) for r in records], dtype=float)
    std = raw.std(axis=0)
    std[std == 0] = 1.0  # a constant column carries no information; avoid dividing by zero
    weights = np.array([w for _, w in _NUMERIC] + [_HOUSEHOLD_WEIGHT] * len(HOUSEHOLDS))
    return (raw - raw.mean(axis=0)) / std * weights
