"""Consumer records: the deterministic synthetic demo table and a CSV/Parquet reader.

A record is a plain ``dict`` with these keys (types after normalisation):

==================  =======  ==============================================
key                 type     values
==================  =======  ==============================================
record_id           int      unique id (row number when the file has none)
age                 int      18..99
gender              str      ``Female`` / ``Male``
household           str      one of :data:`HOUSEHOLDS`
education           str      one of :data:`EDUCATION_LEVELS` (ordered)
ethnicity           str      free text (demo: White, Hispanic, Black, Asian, Other)
income_band         str      one of :data:`INCOME_BANDS` (ordered)
net_worth_decile    int      1..10
credit_tier         str      one of :data:`CREDIT_TIERS` (ordered)
credit_quartile     int      1..4, within the tier
credit_usage        str      ``low`` / ``moderate`` / ``active``
equity_balance      str      ``low`` / ``high``
open_auto_loans     int      >= 0
auto_loan_balance   int      dollars owed on auto loans, >= 0
discretionary_spend int      dollars a year, >= 0
political_giving    int      dollars a year given to political causes, >= 0
homeowner           bool
state               str      two-letter US state code
region              str      Northeast / Midwest / South / West (derived from state if absent)
country             str      ``USA`` unless the file says otherwise
==================  =======  ==============================================

The synthetic table draws each record from one of twelve latent consumer profiles
(plus an age tail so every profile has some people in every age band), so the
attributes are correlated the way real bureau data is: wealth rises with age and
income, renters hold little equity, auto debt clusters with sub-prime credit, etc.
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from domain.consumer import CREDIT_TIERS, EDUCATION_LEVELS, HOUSEHOLDS

GENDER_VALUES = ("Female", "Male")
ETHNICITIES = ("White", "Hispanic", "Black", "Asian", "Other")
INCOME_BANDS = (
    "$0 - $25,000",
    "$25,001 - $50,000",
    "$50,001 - $75,000",
    "$75,001 - $100,000",
    "$100,001 - $150,000",
    "$150,001 - $200,000",
    "$200,001 - $400,000",
    "$400,001+",
)
# Dollar figure standing for each income band (its midpoint; the open top band gets 500k).
INCOME_BAND_VALUES = (12_500, 37_500, 62_500, 87_500, 125_000, 175_000, 300_000, 500_000)
CREDIT_USAGE_LEVELS = ("low", "moderate", "active")
EQUITY_LEVELS = ("low", "high")
REGION_STATES: dict[str, tuple[str, ...]] = {
    "Northeast": ("NY", "PA", "MA", "NJ", "CT"),
    "Midwest": ("IL", "OH", "MI", "WI", "MN", "MO", "IN", "IA"),
    "South": ("TX", "FL", "GA", "NC", "VA", "TN", "AL", "LA"),
    "West": ("CA", "WA", "AZ", "CO", "OR", "NV", "UT"),
}
REGIONS = tuple(REGION_STATES)
STATE_REGION = {s: r for r, states in REGION_STATES.items() for s in states}

REQUIRED_COLUMNS: tuple[str, ...] = (
    "age",
    "gender",
    "household",
    "education",
    "ethnicity",
    "income_band",
    "net_worth_decile",
    "credit_tier",
    "credit_quartile",
    "credit_usage",
    "equity_balance",
    "open_auto_loans",
    "auto_loan_balance",
    "discretionary_spend",
    "political_giving",
    "homeowner",
    "state",
)
OPTIONAL_COLUMNS: tuple[str, ...] = ("record_id", "region", "country")


@dataclass(frozen=True)
class _Profile:
    """One latent consumer profile of the synthetic table (probabilities follow the vocab orders)."""

    weight: float
    age: tuple[float, float]
    female: float
    household: tuple[float, ...]
    education: tuple[float, ...]
    tier: tuple[float, ...]
    income: tuple[float, float]  # mean and sd of the income band index
    net_worth: tuple[float, float]  # mean and sd of the decile
    usage: tuple[float, ...]
    homeowner: float
    equity_if_owner: float
    auto_loans: float  # Poisson mean of open auto loans
    per_loan: float  # typical balance of one auto loan
    spend: float  # median discretionary spend
    political: float  # share giving to political causes
    region: tuple[float, ...] = (0.18, 0.21, 0.38, 0.23)
    ethnicity: tuple[float, ...] = (0.58, 0.19, 0.12, 0.06, 0.05)


_PROFILES: tuple[_Profile, ...] = (
    # young, sub-prime, several auto loans, renting
    _Profile(
        1.0,
        (31, 4),
        0.5,
        (0.35, 0.15, 0.25, 0.2, 0.05),
        (0.35, 0.4, 0.2, 0.05),
        (0.75, 0.25, 0, 0),
        (2.3, 1.0),
        (2.5, 1.0),
        (0.05, 0.2, 0.75),
        0.2,
        0.3,
        2.8,
        17_000,
        7_000,
        0.03,
        (0.1, 0.25, 0.45, 0.2),
        (0.45, 0.28, 0.18, 0.04, 0.05),
    ),
    # affluent older homeowners with super-prime credit
    _Profile(
        1.0,
        (70, 4),
        0.5,
        (0.15, 0.7, 0.05, 0.02, 0.08),
        (0.1, 0.2, 0.4, 0.3),
        (0, 0.02, 0.28, 0.7),
        (5.3, 1.0),
        (8.8, 1.0),
        (0.5, 0.4, 0.1),
        0.95,
        0.9,
        0.3,
        22_000,
        20_000,
        0.45,
        ethnicity=(0.75, 0.08, 0.08, 0.06, 0.03),
    ),
    # credit starters just out of school
    _Profile(
        1.0,
        (21, 2),
        0.5,
        (0.8, 0.03, 0.02, 0.05, 0.1),
        (0.45, 0.5, 0.05, 0),
        (0.35, 0.55, 0.1, 0),
        (0.8, 0.8),
        (1.5, 0.8),
        (0.7, 0.25, 0.05),
        0.03,
        0.05,
        0.35,
        9_000,
        2_500,
        0.02,
        ethnicity=(0.5, 0.24, 0.14, 0.07, 0.05),
    ),
    # young graduates with prime credit and good salaries
    _Profile(
        1.0,
        (30, 4),
        0.5,
        (0.6, 0.3, 0.08, 0.02, 0),
        (0.02, 0.08, 0.55, 0.35),
        (0.02, 0.1, 0.7, 0.18),
        (4.8, 0.8),
        (4.8, 1.2),
        (0.1, 0.3, 0.6),
        0.45,
        0.4,
        1.0,
        20_000,
        15_000,
        0.12,
        (0.25, 0.15, 0.25, 0.35),
        (0.55, 0.12, 0.1, 0.18, 0.05),
    ),
    # established suburban families
    _Profile(
        1.0,
        (40, 5),
        0.5,
        (0.02, 0.08, 0.85, 0.03, 0.02),
        (0.1, 0.3, 0.45, 0.15),
        (0.02, 0.18, 0.68, 0.12),
        (4.3, 0.9),
        (5.5, 1.3),
        (0.15, 0.65, 0.2),
        0.85,
        0.6,
        1.5,
        18_000,
        11_000,
        0.1,
    ),
    # retirees on fixed incomes
    _Profile(
        1.0,
        (79, 5),
        0.55,
        (0.55, 0.35, 0, 0, 0.1),
        (0.5, 0.25, 0.15, 0.1),
        (0.08, 0.35, 0.45, 0.12),
        (0.9, 0.8),
        (5.0, 1.5),
        (0.75, 0.22, 0.03),
        0.8,
        0.85,
        0.15,
        10_000,
        3_000,
        0.2,
        ethnicity=(0.72, 0.1, 0.1, 0.05, 0.03),
    ),
    # single parents stretched thin
    _Profile(
        1.0,
        (36, 6),
        0.8,
        (0, 0, 0.05, 0.9, 0.05),
        (0.45, 0.4, 0.13, 0.02),
        (0.7, 0.25, 0.05, 0),
        (1.5, 0.8),
        (1.8, 0.8),
        (0.05, 0.35, 0.6),
        0.15,
        0.15,
        1.1,
        13_000,
        3_500,
        0.02,
        ethnicity=(0.4, 0.27, 0.25, 0.03, 0.05),
    ),
    # wealthy mid-career investors
    _Profile(
        1.0,
        (49, 4),
        0.45,
        (0.1, 0.4, 0.45, 0.02, 0.03),
        (0.02, 0.08, 0.4, 0.5),
        (0, 0.02, 0.25, 0.73),
        (6.4, 0.6),
        (9.4, 0.7),
        (0.05, 0.4, 0.55),
        0.95,
        0.9,
        1.4,
        35_000,
        40_000,
        0.5,
        (0.3, 0.15, 0.25, 0.3),
        (0.7, 0.06, 0.06, 0.15, 0.03),
    ),
    # middle-aged renters with near-prime credit
    _Profile(
        1.0,
        (55, 5),
        0.5,
        (0.65, 0.1, 0.05, 0.15, 0.05),
        (0.5, 0.35, 0.12, 0.03),
        (0.2, 0.7, 0.1, 0),
        (1.8, 0.8),
        (2.5, 1.0),
        (0.3, 0.6, 0.1),
        0.1,
        0.1,
        0.3,
        12_000,
        4_500,
        0.05,
    ),
    # rural workers financing trucks
    _Profile(
        1.0,
        (47, 6),
        0.35,
        (0.1, 0.3, 0.55, 0.03, 0.02),
        (0.75, 0.2, 0.05, 0),
        (0.1, 0.65, 0.25, 0),
        (2.8, 0.8),
        (4.0, 1.2),
        (0.2, 0.5, 0.3),
        0.85,
        0.3,
        2.4,
        26_000,
        6_000,
        0.08,
        (0.05, 0.45, 0.45, 0.05),
        (0.8, 0.1, 0.06, 0.01, 0.03),
    ),
    # debt-free savers close to retirement
    _Profile(
        1.0,
        (60, 3),
        0.5,
        (0.2, 0.65, 0.1, 0.02, 0.03),
        (0.25, 0.3, 0.3, 0.15),
        (0, 0.05, 0.35, 0.6),
        (3.8, 0.9),
        (7.5, 1.2),
        (0.7, 0.25, 0.05),
        0.9,
        0.95,
        0.1,
        15_000,
        9_000,
        0.25,
    ),
    # urban graduate-degree renters with student-era credit
    _Profile(
        1.0,
        (27, 3),
        0.5,
        (0.75, 0.15, 0.02, 0.01, 0.07),
        (0, 0.05, 0.3, 0.65),
        (0.15, 0.7, 0.15, 0),
        (2.6, 1.0),
        (1.3, 0.6),
        (0.05, 0.35, 0.6),
        0.05,
        0.05,
        0.3,
        15_000,
        14_000,
        0.15,
        (0.35, 0.1, 0.15, 0.4),
        (0.5, 0.14, 0.1, 0.21, 0.05),
    ),
)

_AGE_TAIL_SHARE = 0.08  # records whose age ignores their profile (uniform 18..90)


def generate_records(n: int = 6000, seed: int = 7) -> list[dict[str, Any]]:
    """``n`` synthetic US consumer records; the same ``(n, seed)`` always gives the same list."""
    if n < 1:
        raise ValueError("n must be at least 1")
    rng = np.random.default_rng(seed)
    weights = np.array([p.weight for p in _PROFILES])
    profile_ids = rng.choice(len(_PROFILES), size=n, p=weights / weights.sum())
    return [_draw(rng, _PROFILES[int(pid)], i + 1) for i, pid in enumerate(profile_ids)]


def _pick(rng: np.random.Generator, values: tuple[str, ...], probs: tuple[float, ...]) -> str:
    p = np.asarray(probs, dtype=float)
    return values[int(rng.choice(len(values), p=p / p.sum()))]


def _draw(rng: np.random.Generator, p: _Profile, record_id: int) -> dict[str, Any]:
    if rng.random() < _AGE_TAIL_SHARE:
        age = int(rng.integers(18, 91))
    else:
        age = int(np.clip(round(rng.normal(*p.age)), 18, 95))
    age_shift = (age - p.age[0]) / 25.0  # older than the profile: a bit richer
    gender = "Female" if rng.random() < p.female else "Male"
    education = _pick(rng, EDUCATION_LEVELS, p.education)
    edu_shift = (EDUCATION_LEVELS.index(education) - 1.5) * 0.35
    income_idx = int(np.clip(round(rng.normal(p.income[0] + edu_shift, p.income[1])), 0, 7))
    nw = rng.normal(p.net_worth[0] + 0.5 * age_shift + 0.25 * (income_idx - p.income[0]), p.net_worth[1])
    net_worth_decile = int(np.clip(round(nw), 1, 10))
    homeowner = bool(rng.random() < min(0.98, p.homeowner + 0.04 * max(0.0, age_shift)))
    equity_high = rng.random() < (p.equity_if_owner if homeowner else 0.05)
    loans = int(min(6, rng.poisson(p.auto_loans)))
    balance = sum(float(rng.lognormal(math.log(p.per_loan), 0.4)) for _ in range(loans))
    spend = p.spend * 1.2 ** (income_idx - p.income[0]) * float(rng.lognormal(0.0, 0.35))
    gives = rng.random() < p.political
    giving = int(round(float(rng.lognormal(math.log(150), 0.9)))) if gives else 0
    region = _pick(rng, REGIONS, p.region)
    states = REGION_STATES[region]
    return {
        "record_id": record_id,
        "age": age,
        "gender": gender,
        "household": _pick(rng, HOUSEHOLDS, p.household),
        "education": education,
        "ethnicity": _pick(rng, ETHNICITIES, p.ethnicity),
        "income_band": INCOME_BANDS[income_idx],
        "net_worth_decile": net_worth_decile,
        "credit_tier": _pick(rng, CREDIT_TIERS, p.tier),
        "credit_quartile": int(rng.integers(1, 5)),
        "credit_usage": _pick(rng, CREDIT_USAGE_LEVELS, p.usage),
        "equity_balance": "high" if equity_high else "low",
        "open_auto_loans": loans,
        "auto_loan_balance": int(round(balance, -1)),
        "discretionary_spend": int(round(spend, -2)),
        "political_giving": max(giving, 10) if gives else 0,
        "homeowner": homeowner,
        "state": states[int(rng.integers(len(states)))],
        "region": region,
        "country": "USA",
    }


# ---------------------------------------------------------------- reading files


def load_records(path: str | Path) -> list[dict[str, Any]]:
    """Read a CSV or Parquet record table (by suffix) and normalise every row.

    Raises ``ValueError`` naming missing columns, or the row and column of a bad value.
    """
    path = Path(path)
    if not path.exists():
        raise ValueError(f"record file {path} does not exist")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        rows, columns = _read_csv(path)
    elif suffix in (".parquet", ".pq"):
        rows, columns = _read_parquet(path)
    else:
        raise ValueError(f"record file {path} must end in .csv or .parquet")
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise ValueError(
            f"record file {path.name} is missing required column(s): {', '.join(missing)} "
            f"(required: {', '.join(REQUIRED_COLUMNS)})"
        )
    if not rows:
        raise ValueError(f"record file {path.name} has no rows")
    records = [normalize_record(row, i + 1) for i, row in enumerate(rows)]
    ids = [r["record_id"] for r in records]
    if len(set(ids)) != len(ids):
        raise ValueError(f"record file {path.name}: record_id values are not unique")
    return records


def _read_csv(path: Path) -> tuple[list[dict[str, Any]], list[str]]:
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        columns = [c.strip() for c in (reader.fieldnames or [])]
        rows = [{k.strip(): v for k, v in row.items() if k is not None} for row in reader]
    return rows, columns


def _read_parquet(path: Path) -> tuple[list[dict[str, Any]], list[str]]:
    try:
        import pyarrow.parquet as pq  # lazy: only Parquet input needs it
    except ImportError:  # pragma: no cover - depends on the environment
        raise ValueError("reading Parquet needs the 'pyarrow' package; install it or use CSV") from None
    table = pq.read_table(path)
    return table.to_pylist(), list(table.column_names)


def _key(text: str) -> str:
    return re.sub(r"[^a-z0-9+$]", "", text.lower())


def _vocab(values: tuple[str, ...], *aliases: tuple[str, str]) -> dict[str, str]:
    table = {_key(v): v for v in values}
    table.update({_key(a): v for a, v in aliases})
    return table


_CATEGORICAL: dict[str, dict[str, str]] = {
    "gender": _vocab(GENDER_VALUES, ("f", "Female"), ("woman", "Female"), ("m", "Male"), ("man", "Male")),
    "household": _vocab(HOUSEHOLDS),
    "education": _vocab(EDUCATION_LEVELS),
    "income_band": _vocab(INCOME_BANDS),
    "credit_tier": _vocab(CREDIT_TIERS),
    "credit_usage": _vocab(CREDIT_USAGE_LEVELS),
    "equity_balance": _vocab(EQUITY_LEVELS),
}
_INTS: dict[str, tuple[int, int]] = {
    "age": (18, 120),
    "net_worth_decile": (1, 10),
    "credit_quartile": (1, 4),
    "open_auto_loans": (0, 1000),
    "auto_loan_balance": (0, 10**9),
    "discretionary_spend": (0, 10**9),
    "political_giving": (0, 10**9),
}
_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0"}


def normalize_record(raw: dict[str, Any], row: int) -> dict[str, Any]:
    """Coerce one raw row (strings from CSV, typed values from Parquet) into a record dict."""
    out: dict[str, Any] = {}

    def bad(col: str, why: str) -> ValueError:
        return ValueError(f"row {row}, column '{col}': {why} (got {raw.get(col)!r})")

    for col, (lo, hi) in _INTS.items():
        value = raw.get(col)
        try:
            number = float(str(value).replace(",", "").replace("$", "").strip())
        except ValueError:
            raise bad(col, "expected a number") from None
        if math.isnan(number) or number != int(number):
            raise bad(col, "expected a whole number")
        if not lo <= number <= hi:
            raise bad(col, f"expected a value between {lo} and {hi}")
        out[col] = int(number)
    for col, table in _CATEGORICAL.items():
        value = table.get(_key(str(raw.get(col) or "")))
        if value is None:
            raise bad(col, f"expected one of {sorted(set(table.values()))}")
        out[col] = value
    owner = raw.get("homeowner")
    if isinstance(owner, bool):
        out["homeowner"] = owner
    elif str(owner).strip().lower() in _TRUE:
        out["homeowner"] = True
    elif str(owner).strip().lower() in _FALSE:
        out["homeowner"] = False
    else:
        raise bad("homeowner", "expected true/false")
    state = str(raw.get("state") or "").strip().upper()
    if not state:
        raise bad("state", "expected a state code")
    out["state"] = state
    out["ethnicity"] = str(raw.get("ethnicity") or "").strip() or "Unknown"
    region = str(raw.get("region") or "").strip()
    out["region"] = region or STATE_REGION.get(state, "Unknown")
    out["country"] = str(raw.get("country") or "").strip() or "USA"
    rid = raw.get("record_id")
    try:
        out["record_id"] = int(rid) if rid not in (None, "") else row
    except (TypeError, ValueError):
        raise bad("record_id", "expected an integer") from None
    return {k: out[k] for k in (*("record_id",), *REQUIRED_COLUMNS, "region", "country")}
