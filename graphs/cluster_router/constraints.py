"""Rule-based parsing of segment constraints from a free-text query, and how well a
cluster's measured attributes agree with them.

The query is first normalised (`query_text`): number words become digits, typos of the
parser's vocabulary are corrected, and negation and past-tense scopes are marked. Each
rule below then matches a phrase; a phrase inside a negation scope ("not boomers",
"without car loans", "anyone except Gen Z", "non-subprime") or a past scope ("used to
be subprime") becomes an *excluded* constraint, which lowers the clusters that have it.

Age words map to the seven age bands as follows (ages in 2025; a band goes to a
word when most of the band's people fit it):

=================================================  ===============================
words                                              bands
=================================================  ===============================
Gen Z, Generation Z, zoomers, students             18 - 24
young adults, young people, young (consumers...)   18 - 24, 25 - 34
young professionals                                25 - 34
Millennials, Gen Y, young families/parents         25 - 34, 35 - 44
mid-career                                         35 - 44, 45 - 54
Gen X, middle-aged, midlife                        45 - 54, 55 - 64
pre-retirees, near/approaching retirement          55 - 64
empty nesters                                      55 - 64, 65 - 74
Boomers, baby boomers, retirees, retired,          65 - 74, 75+
seniors, elderly, older adults, pensioners
Silent generation                                  75+
=================================================  ===============================

Explicit ages: "25 to 34", "25-34 year old", "between 25 and 34", "ages 21-29" keep the
bands that overlap the range by at least two years ("25 to 35" is 25 - 34 only); a single
age ("a 30-year-old", "aged 40") picks its band; "in their 30s" / "thirties" /
"30-somethings" covers 30-39 ("early"/"late" halve it, "mid" is 33-36); "over 65", "65+",
"65 and older", "at least 65" is 65 and up; "under 35", "at most 34" is 18-34;
approximate ages widen to a range ("around 60", "about 60", "roughly 60" are 56-64;
"pushing 70", "nearing 70", "almost 70" are 66-70); "older/younger than the boomers"
is the bands after/before that generation's. Explicit ages win over age words when a
query has both ("a retired man aged 65 to 74" is 65 - 74 only).

Money: "$150k", "150K", "150 thousand", "90 grand", "$1.2 million", "six figures" are
amounts; "between A and B", "A to B", "A-B", "more than / over / above / at least /
north of A", "A+", "less than / under / below / at most / up to A", "about / around /
roughly A" (A +- 15%) are ranges; bounds named together intersect ("below 90k but above
60k" is 60k-90k). An amount is discretionary spending next to "spend", net worth next
to "net worth / assets / savings", otherwise household income.

Outside the data: people under 18 (an age below 18, or children, teens, minors... who are
not someone's children: "parents of teens" is about parents), businesses and
organisations (B2B, companies, procurement, IT decision makers...) and places outside the
USA (countries, their people, large foreign cities, "abroad") are recorded in
`out_of_scope`; a cluster of the data set is then no match (see `scope_fits`).

An age band named in the query is a hard filter for personas (an excluded band removes
personas); every other constraint only scores clusters.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, Field

from domain.demographics import AGE_BAND_LIMITS, AGE_BANDS, known
from graphs.age_words import decade_span
from graphs.cluster_router.lexicon import COMPILED as LEXICON_RULES
from graphs.cluster_router.lexicon import Concept
from graphs.cluster_router.query_text import (
    MINOR_RE,
    TENS,
    business_mentions,
    correct_spelling,
    find_scopes,
    foreign_places,
    minor_mentions,
    normalise,
    number_words_to_digits,
    polarity_at,
)

Level = Literal["high", "medium", "low"]

NEUTRAL_SCORE = 0.5  # what constraint_score returns when the query named no constraint
MIN_AGE = min(lo for lo, _ in AGE_BAND_LIMITS.values())  # the data's youngest age (18)


class ConstraintFields(BaseModel):
    """Segment attributes a query can ask for (or exclude). Empty lists / ``None`` mean "not asked"."""

    age_bands: list[str] = Field(default_factory=list, description="Age bands, in band order.")
    gender: Literal["Female", "Male"] | None = None
    credit_tiers: list[str] = Field(default_factory=list, description="Sub Prime, Near Prime, Prime, Super Prime.")
    income: Level | None = None
    wealth: Literal["high", "low"] | None = None
    auto_debt: Level | None = None
    homeowner: bool | None = None
    equity: Literal["high", "low"] | None = None
    education: Literal["high_school", "college", "graduate"] | None = None
    household: Literal["single", "couple", "family", "single_parent", "multi_generational"] | None = None
    political_donor: bool | None = None
    spending: Literal["high", "low"] | None = None
    credit_usage: Literal["low", "moderate", "active"] | None = None
    ethnicity: str | None = None
    region: str | None = None

    def named(self) -> list[str]:
        """The fields that are set."""
        return [n for n in ConstraintFields.model_fields if getattr(self, n) not in (None, [])]


class QueryConstraints(ConstraintFields):
    """What a query asks of a segment: wanted attributes (the inherited fields), excluded
    ones, money ranges, and why the query is outside the data, if it is."""

    excluded: ConstraintFields = Field(
        default_factory=ConstraintFields, description="Attributes the query rules out (negated or in the past)."
    )
    income_min: float | None = Field(None, description="Household income at least this (dollars a year).")
    income_max: float | None = Field(None, description="Household income at most this (dollars a year).")
    spend_min: float | None = Field(None, description="Discretionary spend at least this (dollars a year).")
    spend_max: float | None = Field(None, description="Discretionary spend at most this (dollars a year).")
    out_of_scope: list[str] = Field(
        default_factory=list, description="Why the query is about people outside the data (under 18, businesses...)."
    )
    matched_terms: list[str] = Field(default_factory=list, description="Query phrases that set a constraint.")

    def count(self) -> int:
        """How many constraints the query names (wanted, excluded and money ranges)."""
        ranges = (self.income_min is not None or self.income_max is not None) + (
            self.spend_min is not None or self.spend_max is not None
        )
        return len(self.named()) + len(self.excluded.named()) + ranges

    @property
    def is_empty(self) -> bool:
        """True when the query named no constraint (the flag for a neutral score)."""
        ranges = (self.income_min, self.income_max, self.spend_min, self.spend_max)
        return not (self.named() or self.excluded.named() or any(r is not None for r in ranges) or self.out_of_scope)


# ---------------------------------------------------------------- parsing

# An action records what its phrase says; it returns False when the phrase turns out not to be
# one it handles (the phrase is then left for later rules), anything else when it is.
_Action = Callable[[re.Match[str], dict[str, Any]], Any]


@dataclass(frozen=True)
class _Rule:
    pattern: re.Pattern[str]
    action: _Action


def _set(field: str, value: Any) -> _Action:
    def act(_m: re.Match[str], found: dict[str, Any]) -> None:
        found.setdefault(field, value)  # the first (most specific) phrase wins

    return act


def _add(field: str, *values: str) -> _Action:
    def act(_m: re.Match[str], found: dict[str, Any]) -> None:
        bucket = found.setdefault(field, [])
        bucket.extend(v for v in values if v not in bucket)

    return act


def _gender(value: str) -> _Action:
    def act(_m: re.Match[str], found: dict[str, Any]) -> None:
        found.setdefault("genders", set()).add(value)

    return act


def _both(*actions: _Action) -> _Action:
    def act(m: re.Match[str], found: dict[str, Any]) -> None:
        for a in actions:
            a(m, found)

    return act


def _bands_for_range(lo: int, hi: int) -> list[str]:
    """Bands overlapping [lo, hi] by at least two years (or holding all of a shorter range)."""
    need = min(2, hi - lo + 1)
    bands = []
    for band, (b_lo, b_hi) in AGE_BAND_LIMITS.items():
        b_hi = 120 if band == "75+" else b_hi
        overlap = min(hi, b_hi) - max(lo, b_lo) + 1
        if overlap >= need:
            bands.append(band)
    return bands


def _ages(found: dict[str, Any], m: re.Match[str], lo: int, hi: int) -> None:
    """An explicit age range: bands of the data, or "under 18" when it lies below the data's ages.
    An age right after a word for children ("kids under 18", "children aged 5-12") describes
    the children, not the people asked about."""
    text = found["_text"]
    if MINOR_RE.search(text[max(0, m.start() - 14) : m.start()]):
        return
    if hi < MIN_AGE:
        found.setdefault("_out", []).append("under 18")
        return
    if lo <= hi <= 120:
        _add("explicit_bands", *_bands_for_range(max(lo, MIN_AGE), hi))(m, found)


def _age_range(lo_group: int | None, hi_group: int | None, lo: int = 0, hi: int = 0) -> _Action:
    """Ages from the match's groups (1-based) or fixed bounds."""

    def act(m: re.Match[str], found: dict[str, Any]) -> bool:
        a = int(m.group(lo_group)) if lo_group else lo
        b = int(m.group(hi_group)) if hi_group else hi
        if a > b or b < 10:  # "over 6" is not about ages
            return False
        _ages(found, m, a, b)
        return True

    return act


def _age_about(before: int, after: int) -> _Action:
    """An approximate age ("around 60", "pushing 70"): the age minus `before` to plus `after`."""

    def act(m: re.Match[str], found: dict[str, Any]) -> None:
        n = int(m.group("n"))
        _ages(found, m, n - before, n + after)

    return act


def _decade(m: re.Match[str], found: dict[str, Any]) -> None:
    lo, hi = decade_span(m.group("decade"), m.group("part"))
    _ages(found, m, lo, hi)


def _decade_range(m: re.Match[str], found: dict[str, Any]) -> None:
    """ "mid-40s to mid-50s": from the first span's start to the second span's end."""
    lo, _ = decade_span(m.group("d1"), m.group("p1"))
    _, hi = decade_span(m.group("d2"), m.group("p2"))
    _ages(found, m, lo, hi)


_GENERATION_BANDS = {
    "gen z": ("18 - 24",),
    "millennials": ("25 - 34", "35 - 44"),
    "gen x": ("45 - 54", "55 - 64"),
    "boomers": ("65 - 74", "75+"),
}


def _generation_key(word: str) -> str:
    if "z" in word.split()[-1] or "zoom" in word:
        return "gen z"
    if "mill" in word or word.endswith("y"):
        return "millennials"
    if "x" in word:
        return "gen x"
    return "boomers"


def _than_generation(m: re.Match[str], found: dict[str, Any]) -> None:
    """ "older than the boomers" / "younger than Millennials": the bands after / before them."""
    bands = _GENERATION_BANDS[_generation_key(m.group("gen"))]
    order = list(AGE_BANDS)
    if m.group("dir") == "older":
        keep = order[order.index(bands[-1]) + 1 :]
    else:
        keep = order[: order.index(bands[0])]
    if keep:
        _add("explicit_bands", *keep)(m, found)


# --- money

_MULTIPLIERS = {"k": 1e3, "thousand": 1e3, "grand": 1e3, "m": 1e6, "mm": 1e6, "million": 1e6}
_AMOUNT = r"\$?\s?(?:\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)(?:\s?(?:k|thousand|grand|mm|m|million)\b)?"
_SPEND_CONTEXT = re.compile(r"\bspen[dt]\w*|\bdiscretionary\b|\bsplurg\w*")
_WEALTH_CONTEXT = re.compile(r"\bnet worth\b|\bassets\b|\bsavings\b|\bportfolios?\b|\bnest eggs?\b|\bwealth\b")
_AUTO_CONTEXT = re.compile(r"\b(?:auto|car|vehicle|truck)\b|\bowe\b")
_INCOME_CONTEXT = re.compile(r"\b(?:earn\w*|incomes?|mak(?:e|es|ing)|salar\w*|hhi|paid|pulling in|bringing in)\W*$")


def _amount(text: str) -> float | None:
    m = re.fullmatch(r"\$?\s?(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)\s?(k|thousand|grand|mm|m|million)?", text.strip())
    if not m:
        return None
    value = float(m.group(1).replace(",", ""))
    return value * _MULTIPLIERS[m.group(2)] if m.group(2) else value


_HAS_UNIT = re.compile(r"\$|\d\s?(?:k|thousand|grand|mm|m|million)\b")
_MONEY_WORDS = re.compile(
    r"dollars|\ba year\b|\bper year\b|\bannual|\bincomes?\b|\bearn|\bmak(?:e|es|ing)\b|\bsalar|\bspen[dt]|\bworth\b|\bhhi\b"
)


def _money_span(kind: str, a: float, b: float | None) -> tuple[float | None, float | None]:
    """The (low, high) a money phrase of `kind` names; None for an open end."""
    if kind == "between" and b is not None:
        return min(a, b), max(a, b)
    if kind == "lower":
        return a, None
    if kind == "upper":
        return None, a
    return a * 0.85, a * 1.15  # "about", or a single amount


def _file_money(
    found: dict[str, Any], text: str, m: re.Match[str], span: tuple[float | None, float | None], point: float
) -> None:
    """Put the amount under what its neighbours say it is: spend, wealth, income or auto debt."""
    lo, hi = span
    before, after = text[max(0, m.start() - 40) : m.start()], text[m.end() : m.end() + 25]
    if _SPEND_CONTEXT.search(before) or _SPEND_CONTEXT.search(after[:12]):
        _intersect(found, "spend", lo, hi)
    elif _WEALTH_CONTEXT.search(before[-25:]) or _WEALTH_CONTEXT.search(after[:15]):
        if point >= 500_000 or point <= 50_000:
            found.setdefault("wealth", "high" if point >= 500_000 else "low")
    elif _INCOME_CONTEXT.search(before[-20:]):  # "no car, earning $40k": the earning is what the amount is
        _intersect(found, "income", lo, hi)
    elif _AUTO_CONTEXT.search(after[:20]) or _AUTO_CONTEXT.search(before[-20:]):
        if point >= 30_000 or point <= 5_000:
            found.setdefault("auto_debt", "high" if point >= 30_000 else "low")
    else:
        _intersect(found, "income", lo, hi)


def _money(kind: str) -> Callable[[re.Match[str], dict[str, Any]], bool]:
    """A money amount or range (see the module doc); False when the phrase is not money."""

    def act(m: re.Match[str], found: dict[str, Any]) -> bool:
        text = found["_text"]
        a = _amount(m.group("a"))
        b = _amount(m.group("b")) if "b" in m.re.groupindex and m.group("b") else None
        if a is None:
            return False
        if not _HAS_UNIT.search(m.group(0)):
            window = text[max(0, m.start() - 40) : m.end() + 20]
            if not _MONEY_WORDS.search(window) or max(a, b or 0) < 1000:
                return False
        if b is not None and a < b / 100 and a * 1000 <= b:  # "between 60 and 90 thousand": a shared unit
            a *= 1000
        if b is not None and b < a / 100:
            b *= 1000
        lo, hi = _money_span(kind, a, b)
        _file_money(found, text, m, (lo, hi), a if lo is None or hi is None else (lo + hi) / 2)
        return True

    return act


def _intersect(found: dict[str, Any], name: str, lo: float | None, hi: float | None) -> None:
    """Bounds named together narrow each other ("below 90k but above 60k"); a contradiction keeps the first."""
    old_lo, old_hi = found.get(f"{name}_min"), found.get(f"{name}_max")
    new_lo = max(x for x in (old_lo, lo) if x is not None) if (old_lo, lo) != (None, None) else None
    new_hi = min(x for x in (old_hi, hi) if x is not None) if (old_hi, hi) != (None, None) else None
    if new_lo is not None and new_hi is not None and new_lo > new_hi:
        return
    found[f"{name}_min"], found[f"{name}_max"] = new_lo, new_hi


# --- credit scores ("700 FICO", "credit scores above 760", "sub-600", "in the 700s")

_TIER_SCORES = {"Sub Prime": (300, 619), "Near Prime": (620, 659), "Prime": (660, 719), "Super Prime": (720, 850)}
_SCORE_NOUN = r"(?:fico|credit|vantage ?score)(?:[- ](?:scores?|ratings?))?|scores?"
_SCORE_CMP = (
    r"(?P<cmp>under|below|less than|lower than|above|over|at least|more than|greater than|north of|south of"
    r"|at most|around|about|roughly|near|approximately|~|sub[- ]?)"
)
_SCORE_TAIL = r"(?P<tail>\+|s\b| or (?:higher|above|more|better|over|lower|below|less|under|worse)\b)?"
_SCORE = r"(?<![\d$,.])(?P<n>[3-8]\d\d)(?!\d|,\d|\s?(?:k|thousand|grand|million)\b)"


def _tiers_for_scores(lo: int, hi: int) -> list[str]:
    """Credit tiers whose score range overlaps [lo, hi] by at least 10 points (the one holding a single score)."""
    need = min(10, hi - lo + 1)
    return [t for t, (t_lo, t_hi) in _TIER_SCORES.items() if min(hi, t_hi) - max(lo, t_lo) + 1 >= need]


def _credit_score(m: re.Match[str], found: dict[str, Any]) -> bool:
    groups = m.groupdict()
    if groups.get("a") and groups.get("b"):
        lo, hi = sorted((int(groups["a"]), int(groups["b"])))
    else:
        n, cmp, tail = int(groups["n"]), (groups.get("cmp") or "").strip(), (groups.get("tail") or "").strip()
        lo, hi = n, n
        if tail == "s":
            hi = n + 99
        elif cmp in ("under", "below", "less than", "lower than", "south of", "at most") or cmp.startswith("sub"):
            lo, hi = 300, n - 1
        elif cmp in ("around", "about", "roughly", "near", "approximately", "~"):
            lo, hi = n - 20, n + 20
        elif cmp or tail == "+" or re.search(r"higher|above|more|better|over", tail):
            lo, hi = n, 850
        elif re.search(r"lower|below|less|under|worse", tail):
            lo, hi = 300, n
    tiers = _tiers_for_scores(max(lo, 300), min(hi, 850))
    if not tiers:
        return False
    _add("credit_tiers", *tiers)(m, found)
    return True


_CREDIT_SCORE_SPECS: list[tuple[str, _Action]] = [
    (
        rf"\b(?:{_SCORE_NOUN})\s+(?:of\s+|between\s+|from\s+)?(?P<a>[3-8]\d\d)\s*(?:-|to|and)\s*(?P<b>[3-8]\d\d)\b",
        _credit_score,
    ),
    (rf"(?<![\d$])(?P<a>[3-8]\d\d)\s*(?:-|to)\s*(?P<b>[3-8]\d\d)[- ](?:{_SCORE_NOUN})\b", _credit_score),
    (
        rf"\b(?:{_SCORE_NOUN})(?:\s+(?:of|at|is|are|in the|in|near|around))?\s*{_SCORE_CMP}?\s*{_SCORE}{_SCORE_TAIL}",
        _credit_score,
    ),
    (rf"(?:\b{_SCORE_CMP}\s*)?{_SCORE}{_SCORE_TAIL}[- ](?:{_SCORE_NOUN})\b", _credit_score),
]


# --- the marketers' lexicon (see `lexicon`)


def _apply(found: dict[str, Any], name: str, value: Any) -> None:
    if name in ("age_bands", "credit_tiers"):
        bucket = found.setdefault(name, [])
        bucket.extend(v for v in value if v not in bucket)
    elif name == "gender":
        found.setdefault("genders", set()).add(value)
    else:
        found.setdefault(name, value)


def _concept(concept: Concept) -> _Action:
    """Record what the concept means; what it rules out goes to the other side (see `parse_constraints`)."""

    def act(_m: re.Match[str], found: dict[str, Any]) -> None:
        for name, value in concept.sets.items():
            _apply(found, name, value)
        found.setdefault("_flip", []).extend(concept.exclude.items())

    return act


def _bands(*bands: str) -> _Action:
    return _add("age_bands", *bands)


_YOUNG = ("18 - 24", "25 - 34")
_MILLENNIAL = ("25 - 34", "35 - 44")
_GEN_X = ("45 - 54", "55 - 64")
_OLD = ("65 - 74", "75+")
_AGE_NUM = r"(?<![\$\d,.])(\d{1,2}|1[01]\d)(?![\d,]|\s?(?:k|thousand|grand|million|%)\b)"
_N = _AGE_NUM.replace("(\\d{1,2}", "(?P<n>\\d{1,2}")
_YEARS_OLD = r"(?:\s*[- ]?\s*(?:years?|yrs?)[- ]?(?:olds?|of age)?)"
_GEN_WORD = r"(?:gen(?:eration)?[- ]?[zxy]|zoomers|millennials|(?:baby[- ])?boomers)"
_DECADE = r"(?:(?P<{p}>early|mid|late)[- ]?)?(?P<{d}>[2-9]0)'?s"

# Most specific first: a phrase consumed by one rule is blanked out for the rest.
_RULE_SPECS: list[tuple[str, Callable[[re.Match[str], dict[str, Any]], Any]]] = [
    # --- credit scores (before money and ages: "over 700" next to "FICO" is neither)
    *_CREDIT_SCORE_SPECS,
    # --- money (before ages: "below 90k" is not an age)
    (rf"\b(?:between|from)\s+(?P<a>{_AMOUNT})\s+(?:and|to|-)\s+(?P<b>{_AMOUNT})", _money("between")),
    (rf"(?P<a>{_AMOUNT})\s*(?:-|to|through)\s*(?P<b>{_AMOUNT})", _money("between")),
    (
        r"\b(?:more than|over|above|at least|north of|upwards of|in excess of|greater than|exceeding|starting at"
        rf"|minimum(?: of)?|min\.?)\s+(?P<a>{_AMOUNT})",
        _money("lower"),
    ),
    (rf"(?P<a>{_AMOUNT})\s*(?:\+|\s+(?:or|and)\s+(?:more|above|over|up|higher))", _money("lower")),
    (
        rf"\b(?:less than|under|below|at most|up to|no more than|south of|lower than|maximum(?: of)?)\s+(?P<a>{_AMOUNT})",
        _money("upper"),
    ),
    (rf"(?P<a>{_AMOUNT})\s+(?:or|and)\s+(?:less|under|below|lower)", _money("upper")),
    (
        rf"\b(?:around|about|roughly|approximately|approx\.?|nearly|almost|close to|circa|some|~)\s*(?P<a>{_AMOUNT})",
        _money("about"),
    ),
    (rf"(?P<a>{_AMOUNT})(?:-ish| or so)", _money("about")),
    (rf"(?P<a>{_AMOUNT})", _money("about")),
    (
        r"\b(?:six|6)[- ]figures?\b|\b(?:six|6)[- ]figure (?:incomes?|salar(?:y|ies)|earners?)\b",
        lambda m, f: _intersect(f, "income", 100_000, None),
    ),
    # --- explicit ages
    (rf"\b(?:between|from)\s+(?:the ages of\s+|ages?\s+)?{_AGE_NUM}\s+(?:and|to)\s+{_AGE_NUM}", _age_range(1, 2)),
    (rf"{_AGE_NUM}\s*(?:-|to|through)\s*{_AGE_NUM}{_YEARS_OLD}?", _age_range(1, 2)),
    (
        rf"{_DECADE.format(p='p1', d='d1')}\s*(?:-|to|through)\s*{_DECADE.format(p='p2', d='d2')}",
        _decade_range,
    ),
    (rf"\b(?P<dir>older|younger) than (?:the |most )?(?P<gen>{_GEN_WORD})", _than_generation),
    (
        rf"(?:\bover|\bolder than|\babove|\bat least|\bpast|\bno younger than)\s+(?:the age of\s+|age\s+)?{_AGE_NUM}",
        _age_range(1, None, hi=120),
    ),
    (
        rf"{_AGE_NUM}{_YEARS_OLD}?\s*(?:\+|\s+(?:and|or)\s+(?:older|over|above|up))",
        _age_range(1, None, hi=120),
    ),
    (
        rf"(?:\bunder|\byounger than|\bbelow)\s+(?:the age of\s+|age\s+)?{_AGE_NUM}",
        lambda m, f: _ages(f, m, MIN_AGE, int(m.group(1)) - 1),
    ),
    (rf"(?:\bat most|\bno older than|\bup to)\s+(?:the age of\s+|age\s+)?{_AGE_NUM}", _age_range(None, 1, lo=MIN_AGE)),
    (rf"{_AGE_NUM}{_YEARS_OLD}?\s+(?:and|or)\s+(?:younger|under|below)", _age_range(None, 1, lo=MIN_AGE)),
    (
        rf"\b(?:around|about|roughly|approximately|approx\.?|circa|~)\s*(?:the age of\s+|age\s+)?{_N}(?:{_YEARS_OLD})?\b",
        _age_about(4, 4),
    ),
    (rf"{_N}(?:-?ish| or so)\b", _age_about(4, 4)),
    (
        rf"\b(?:pushing|nearing|approaching|almost|nearly|close to|getting on for)\s+(?:the age of\s+|age\s+)?{_N}\b",
        _age_about(4, 0),
    ),
    (rf"\bturning\s+{_N}\b", _age_about(1, 0)),
    (r"(?:\b(?P<part>early|mid|late)[- ]?)?\b(?P<decade>[2-9]0)(?:'?s\b|[- ]?somethings?\b)", _decade),
    (
        r"(?:\b(?P<part>early|mid|late)[- ]?)?\b(?P<decade>twenties|thirties|forties|fifties|sixties|seventies|eighties|nineties)\b",
        _decade,
    ),
    (rf"{_AGE_NUM}{_YEARS_OLD}", _age_range(1, 1)),
    (rf"\bage[ds]?\s+{_AGE_NUM}", _age_range(1, 1)),
    (
        r"\b(?P<w>twenty|thirty|forty|fourty|fifty|sixty|seventy|eighty)[- ]?somethings?\b",
        lambda m, f: _ages(f, m, TENS[m.group("w")], TENS[m.group("w")] + 9),
    ),
    # --- life-stage phrases that also say something else
    (r"\bsingle[- ](?:moms?|mothers?)\b", _both(_set("household", "single_parent"), _gender("Female"))),
    (r"\bsingle[- ](?:dads?|fathers?)\b", _both(_set("household", "single_parent"), _gender("Male"))),
    (
        r"\braising (?:kids|children|a family) (?:alone|solo|on (?:their|her|his) own)\b|\b(?:single|lone|solo)[- ]parents?\b|\bsingle[- ]parent(?:ed)? (?:households?|homes?|families)",
        _set("household", "single_parent"),
    ),
    (
        r"\byoung (?:families|family(?: households?)?|parents|moms|dads|households with (?:kids|children))\b",
        _both(_bands(*_MILLENNIAL), _set("household", "family")),
    ),
    (r"\bempty[- ]nesters?\b", _both(_bands("55 - 64", "65 - 74"), _set("household", "couple"))),
    (
        r"\bcollege[- ]age\b|\b(?:college |university )?students?\b|\b(?:fresh|just|straight|recently) out of (?:high )?school\b",
        _bands("18 - 24"),
    ),
    (r"\byoung professionals?\b", _bands("25 - 34")),
    (
        r"\bliving with (?:their |his |her )?parents\b|\bmulti[- ]?generational\b|\bextended famil(?:y|ies)\b",
        _set("household", "multi_generational"),
    ),
    # --- generations and age words
    (r"\b(?:gen(?:eration)?[- ]?z(?:ers?)?|zoomers?|genz)\b", _bands("18 - 24")),
    (r"\b(?:millennials?|gen(?:eration)?[- ]?y)\b", _bands(*_MILLENNIAL)),
    (r"\b(?:gen(?:eration)?[- ]?x(?:ers?)?|xers?)\b", _bands(*_GEN_X)),
    (r"\b(?:baby[- ])?boomers?\b", _bands(*_OLD)),
    (r"\bsilent generation\b|\bgreatest generation\b|\boctogenarians?\b|\bnonagenarians?\b", _bands("75+")),
    (r"\bseptuagenarians?\b", _bands("65 - 74", "75+")),
    (
        r"\bpre[- ]?retire(?:es?|ment)\b|\b(?:near|nearing|approaching|close to|on the verge of) retirement\b"
        r"|\b(?:almost|nearly|soon to be|semi)[- ]retired\b",
        _bands("55 - 64"),
    ),
    (
        r"\bretirees?\b|\bretired\b|\bin retirement\b|\bseniors?\b|\bsenior citizens?\b|\belderly\b|\bpensioners?\b"
        r"|\bolder (?:adults?|consumers?|americans?|people|customers?|shoppers?|borrowers?)\b"
        r"|\bgolden years\b",
        _bands(*_OLD),
    ),
    (r"\bmiddle[- ]ag(?:ed?|ers?)\b|\bmidlife\b", _bands(*_GEN_X)),
    (r"\bmid[- ]career\b", _bands("35 - 44", "45 - 54")),
    (r"\byoung(?:er)?\b|\byouth\b|\btwenty[- ]?somethings?\b", _bands(*_YOUNG)),
    # --- credit tier
    (r"\bsub[- ]?prime\b.{0,6}\bnear[- ]?prime\b", _add("credit_tiers", "Sub Prime", "Near Prime")),
    (r"\bprime\s+(?:or|and)\s+(?:better|above|higher)\b", _add("credit_tiers", "Prime", "Super Prime")),
    (
        r"\bsuper[- ]?prime\b|\b(?:excellent|exceptional|stellar|perfect|outstanding|top[- ]tier|great|pristine) credit\b"
        r"|\b(?:very high|highest|top) credit scores?\b|\b8\d0\+? credit\b",
        _add("credit_tiers", "Super Prime"),
    ),
    (r"\bnear[- ]?prime\b|\b(?:fair|average|okay|ok|middling|mediocre) credit\b", _add("credit_tiers", "Near Prime")),
    (
        r"\bsub[- ]?prime\b|\b(?:bad|poor|damaged|bruised|weak|low|impaired|subpar) credit(?: scores?| ratings?)?\b(?! (?:usage|use|users?)\b)"
        r"|\bcredit[- ]challenged\b|\brisky borrowers\b",
        _add("credit_tiers", "Sub Prime"),
    ),
    (
        r"\b(?:strong|high|solid) credit(?: scores?| ratings?)?\b(?! (?:usage|use|users?)\b)|\bcreditworthy\b",
        _add("credit_tiers", "Prime", "Super Prime"),
    ),
    (r"\bprime\b|\b(?:good|decent) credit\b", _add("credit_tiers", "Prime")),
    # --- credit usage
    (r"\bmoderate credit (?:users?|usage|use)\b", _set("credit_usage", "moderate")),
    (
        r"\b(?:active|heavy|frequent|high) credit (?:users?|usage|use)\b|\bcredit[- ](?:active|hungry|reliant|dependent)\b"
        r"|\brevolvers\b|\brely (?:heavily )?on credit\b|\bmaxed[- ]out\b|\buses? credit (?:heavily|actively|a lot|often|much)\b",
        _set("credit_usage", "active"),
    ),
    (
        r"\b(?:low|light|minimal|infrequent) credit (?:users?|usage|use)\b|\brarely use credit\b|\bnew to credit\b"
        r"|\bthin (?:credit )?files?\b|\bcredit (?:starters?|newcomers?|invisibles?|beginners?)\b|\bcredit[- ]averse\b"
        r"|\bfirst credit card\b|\bavoid credit\b",
        _set("credit_usage", "low"),
    ),
    # --- auto debt
    (
        r"\b(?:no|without|zero|0|low|little|minimal|few|light|paid[- ]off)\s+(?:any\s+|an?\s+)?(?:open\s+)?(?:auto|car|vehicle|truck)\s*(?:debt|loans?|payments?|balances?|financing)\b"
        r"|\bdebt[- ]free\b|\bno debt\b|\bowe nothing\b",
        _set("auto_debt", "low"),
    ),
    (
        r"\b(?:auto|car|vehicle|truck)[- ]?(?:debt|loans?|payments?|balances?|financ\w*|heavy|borrowers?|notes?)\b"
        r"|\bfinanc\w+ (?:cars?|trucks?|vehicles?)\b|\bmultiple (?:cars|vehicles)\b",
        _set("auto_debt", "high"),
    ),
    # --- income
    (r"\bmiddle[- ](?:incomes?|class)\b|\bmoderate incomes?\b|\baverage incomes?\b", _set("income", "medium")),
    (
        r"\bhigh(?:er)?[- ](?:incomes?|earning|earners?|salar(?:y|ies|ied))\b|\baffluent\b|\b(?:six|6)[- ]figures?\b|\bwell[- ](?:off|paid)\b"
        r"|\bupper[- ](?:income|middle[- ]class|class)\b|\b(?:top|big) earners\b|\bhigh incomes?\b|\b(?:earn|make)(?:s|ing)? (?:a lot|high)\b",
        _set("income", "high"),
    ),
    (
        r"\blow(?:er)?[- ](?:incomes?|earning|earners?|wages?|paid)\b|\bpaycheck[- ]to[- ]paycheck\b|\bstruggling\b"
        r"|\bworking poor\b|\bmodest (?:incomes?|means)\b|\bfixed[- ]incomes?\b|\btight budgets?\b"
        r"|\b(?:budget[- ]constrained|financially (?:stretched|strained)|stretched thin|cash[- ]strapped)\b|\bpoor\b",
        _set("income", "low"),
    ),
    # --- wealth and equity
    (
        r"\bhigh[- ]net[- ]worth\b|\bhnw\b|\bwealthy\b|\bwealth\b|\brich\b|\bmillionaires?\b|\basset[- ]rich\b"
        r"|\bwell[- ]to[- ]do\b|\b(?:large|substantial|big) (?:savings|nest eggs?|portfolios?)\b|\binvestors?\b",
        _set("wealth", "high"),
    ),
    (
        r"\blow[- ]net[- ]worth\b|\b(?:little|no|thin|limited|few) (?:savings|assets)\b|\basset[- ]poor\b|\blow wealth\b",
        _set("wealth", "low"),
    ),
    (
        r"\b(?:high|lots of|plenty of|significant|substantial) (?:home )?equity\b|\bequity[- ]rich\b|\bhome equity\b",
        _set("equity", "high"),
    ),
    (r"\b(?:low|little|no|limited) (?:home )?equity\b", _set("equity", "low")),
    # --- housing
    (
        r"\bnon[- ]?homeowners?\b|\brent(?:s|ers?|ing)?\b|\btenants?\b"
        r"|\bapartment[- ]dwellers?\b|\bdon'?t own (?:a |their )?homes?\b",
        _set("homeowner", False),
    ),
    (
        r"\bhome[- ]?owners?\b|\bhome[- ]?ownership\b|\bown(?:s|ing)? (?:a |their |his |her )?(?:own )?homes?\b"
        r"|\bproperty owners?\b|\bmortgages?\b",
        _set("homeowner", True),
    ),
    # --- education
    (
        r"\bgraduate[- ](?:degrees?|educated|school)\b|\bgrad school\b|\bpost[- ]?graduates?\b|\bmaster'?s\b|\bph\.?d\b"
        r"|\bdoctorates?\b|\badvanced degrees?\b",
        _set("education", "graduate"),
    ),
    (
        r"\bhigh[- ]school\b|\bno college\b|\bwithout (?:a )?(?:college )?degrees?\b|\bnon[- ]college\b|\bblue[- ]collar\b"
        r"|\bless educated\b|\btrade workers?\b|\bno degree\b",
        _set("education", "high_school"),
    ),
    (
        r"\bcollege[- ](?:educated|graduates?|grads?|degrees?)\b|\buniversity[- ](?:educated|graduates?|degrees?)\b"
        r"|\bdegree[- ]holders?\b|\bbachelor'?s\b|\bgraduates\b|\bwell[- ]educated\b|\beducated\b|\bwhite[- ]collar\b"
        r"|\bprofessionals?\b",
        _set("education", "college"),
    ),
    # --- household
    (
        r"\bfamil(?:y|ies)\b|\bparents\b|\b(?:with|raising|have|having) (?:young )?(?:kids|children)\b|\b(?:kids|children)\b",
        _set("household", "family"),
    ),
    (r"\bmarried\b|\bcouples?\b(?! of)|\bdual[- ]income\b|\bspouses?\b", _set("household", "couple")),
    (r"\bsingles?\b|\bliving alone\b|\bunmarried\b|\bone-person\b|\bsingle-person\b", _set("household", "single")),
    # --- political giving
    (
        r"\b(?:non[- ]?donors|(?:don'?t|do not|never) (?:donate|give)\b[^.]{0,20}\bpolitic\w*)",
        _set("political_donor", False),
    ),
    (
        r"\bpolitical(?:ly)?[- ](?:donors?|giving|givers?|contributions?|contributors?|donations?|active|engaged)\b"
        r"|\b(?:campaign|party) (?:donors?|contributors?)\b|\b(?:donate|donates|donating|give|gives|giving) (?:money )?to "
        r"(?:political|politics|campaigns?|candidates?|parties)\b|\bdonors\b",
        _set("political_donor", True),
    ),
    # --- spending
    (
        r"\bbig[- ]spend(?:ers?|ing)\b|\bhigh[- ]spend(?:ers?|ing)?\b|\bheavy spenders?\b|\blavish\b|\bluxury\b"
        r"|\bhigh discretionary\b|\bspend (?:a lot|heavily|freely|big)\b|\bsplurg\w*\b|\bfree[- ]spending\b",
        _set("spending", "high"),
    ),
    (
        r"\bfrugal\b|\bthrifty\b|\blow[- ]spend(?:ers?|ing)?\b|\bbudget[- ]conscious\b|\bbargain[- ]hunters?\b"
        r"|\bpenny[- ]pinch\w*\b|\bsavers?\b|\bcautious spenders?\b|\blow discretionary\b|\bspend (?:little|carefully)\b",
        _set("spending", "low"),
    ),
    # --- demographics and geography
    (r"\b(?:women|woman|females?|ladies|lady|moms?|mothers?|wives|wife|girls?|widows?)\b", _gender("Female")),
    (r"\b(?:men|man|males?|guys?|dads?|fathers?|husbands?|gentlemen|boys?|widowers?)\b", _gender("Male")),
    (r"\bhispanics?\b|\blatin[oax]s?\b", _set("ethnicity", "Hispanic")),
    (r"\bafrican[- ]americans?\b|\bblack\b", _set("ethnicity", "Black")),
    (r"\basian(?:[- ]americans?)?s?\b", _set("ethnicity", "Asian")),
    (r"\bwhite\b|\bcaucasians?\b", _set("ethnicity", "White")),
    (r"\bnorth[- ]?east(?:ern)?\b|\bnew england\b", _set("region", "Northeast")),
    (r"\bmid[- ]?west(?:ern)?\b", _set("region", "Midwest")),
    (r"\bsouth(?:ern|east(?:ern)?)?\b|\bsun[- ]?belt\b", _set("region", "South")),
    (r"\bwest(?:ern)?\b|\bwest coast\b|\bpacific northwest\b", _set("region", "West")),
]
_RULES: tuple[_Rule, ...] = tuple(_Rule(re.compile(p), a) for p, a in _RULE_SPECS)
# The lexicon's phrases go right after the numeric rules (credit scores, money, explicit ages):
# they are more specific than the core words they contain ("subprime auto", "solo moms").
_FIRST_WORD_RULE = next(i for i, (p, _a) in enumerate(_RULE_SPECS) if "single[- ](?:moms" in p)
_RULES = (
    _RULES[:_FIRST_WORD_RULE]
    + tuple(_Rule(pattern, _concept(concept)) for pattern, concept in LEXICON_RULES)
    + _RULES[_FIRST_WORD_RULE:]
)

# Comparative wording that means a level: "above-average income" is a high income.
_COMPARATIVES = [
    (re.compile(r"\b(?:above|higher than|more than|better than)[- ](?:the )?(?:average|most|usual|typical)\b"), "high"),
    (re.compile(r"\b(?:below|lower than|less than|worse than)[- ](?:the )?(?:average|most|usual|typical)\b"), "low"),
]


def prepare_text(query: str) -> str:
    """The query as the rules read it: normalised, number words as digits, typos corrected."""
    text = correct_spelling(number_words_to_digits(normalise(query)))
    for pattern, word in _COMPARATIVES:
        text = pattern.sub(word, text)
    return text


def _blank(text: str, start: int, end: int) -> str:
    return text[:start] + " " * (end - start) + text[end:]


def parse_constraints(query: str) -> QueryConstraints:
    """Constraints named in ``query``; phrases are matched most-specific first and each
    phrase is used once (so "super prime" never also counts as "prime"). A phrase in a
    negation or past scope is excluded instead of wanted."""
    original = prepare_text(query)
    scopes = find_scopes(original)
    text = original
    found: dict[str, Any] = {"_text": original}
    excluded: dict[str, Any] = {"_text": original}
    matched: list[str] = []
    for rule in _RULES:
        if rule.pattern.search(text) is None:  # most rules find nothing: skip the iterator
            continue
        for m in list(rule.pattern.finditer(text)):
            negated = bool(polarity_at(scopes, m.start(), m.end()))
            handled: Any = rule.action(m, excluded if negated else found)
            if handled is False:
                continue
            matched.append(("not " if negated else "") + m.group(0).strip())
            text = _blank(text, m.start(), m.end())
    wanted_flips, excluded_flips = found.pop("_flip", []), excluded.pop("_flip", [])
    for name, value in wanted_flips:  # "child-free": families are ruled out
        _apply(excluded, name, value)
    for name, value in excluded_flips:  # "not child-free": ruled out twice is wanted
        _apply(found, name, value)
    out = found.pop("_out", []) + excluded.pop("_out", [])
    for start, end, as_child in minor_mentions(original):
        if not as_child and not polarity_at(scopes, start, end):
            out.append("under 18")
    if any(not polarity_at(scopes, start, end) for start, end in business_mentions(original)):
        out.append("businesses")
    out += [f"outside the USA ({place})" for place in foreign_places(original)]
    ranges: dict[str, Any] = {
        k: found.pop(k) for k in ("income_min", "income_max", "spend_min", "spend_max") if k in found
    }
    for k in [k for k in excluded if k.endswith(("_min", "_max"))]:
        ranges.setdefault(k, excluded.pop(k))
    return QueryConstraints(
        **_fields(found),
        excluded=ConstraintFields(**_fields(excluded)),
        **ranges,
        out_of_scope=list(dict.fromkeys(out)),
        matched_terms=matched,
    )


def _fields(found: dict[str, Any]) -> dict[str, Any]:
    found = {k: v for k, v in found.items() if not k.startswith("_")}
    genders = found.pop("genders", set())
    if len(genders) == 1:  # "men and women" constrains nothing
        found["gender"] = next(iter(genders))
    # Numbers beat words: in "a retired man aged 65 to 74" the ages are what is meant.
    explicit = found.pop("explicit_bands", None)
    if explicit:
        found["age_bands"] = explicit
    if "age_bands" in found:
        found["age_bands"] = [b for b in AGE_BANDS if b in found["age_bands"]]
    if "credit_tiers" in found:
        order = ("Sub Prime", "Near Prime", "Prime", "Super Prime")
        found["credit_tiers"] = [t for t in order if t in found["credit_tiers"]]
    return found


# ---------------------------------------------------------------- scoring

_HOUSEHOLD_VALUES = {
    "single": "Single",
    "couple": "Couple",
    "family": "Family with children",
    "single_parent": "Single parent",
    "multi_generational": "Multi-generational",
}
# Relative weight of each constraint in the cluster score; demographics that most
# clusters share about equally (gender, region) count for less.
_WEIGHTS = {"gender": 0.5, "ethnicity": 0.5, "region": 0.5}
EXCLUDED_FULL_AT = 0.8  # a cluster with at most 20% of an excluded attribute fully agrees


def _clip(x: float) -> float:
    return max(0.0, min(1.0, x))


def _share_score(share: float, full_at: float) -> float:
    """A share of ``full_at`` or more is full agreement."""
    return _clip(share / full_at)


def _ratio_score(index: float, want: str, span: float) -> float:
    """Agreement of a cluster/table ratio with high/medium/low: ``span`` times the
    table mean is a full "high", 1/span a full "low", the mean itself 0.5."""
    x = math.log(max(index, 1e-3)) / math.log(span)
    if want == "high":
        return _clip(0.5 + x / 2)
    if want == "low":
        return _clip(0.5 - x / 2)
    return _clip(1 - abs(x))


def _range_score(value: float, lo: float | None, hi: float | None) -> float:
    """1 inside [lo, hi]; falls to 0 at 1.6 times (or 1/1.6 of) the nearer bound, on a log scale."""
    value = max(value, 1.0)
    gap = 0.0
    if lo is not None and value < lo:
        gap = math.log(lo / value)
    elif hi is not None and value > hi:
        gap = math.log(value / hi)
    return _clip(1 - gap / math.log(1.6))


def _band_score(band: tuple[float, float], lo: float | None, hi: float | None) -> float:
    """Agreement of a cluster's typical band [b_lo, b_hi] with the range [lo, hi]: half for
    how close the band comes to the range (1.6 times away is nothing), half for the share of
    the band inside the range (both on a log scale)."""
    b_lo, b_hi = max(band[0], 1.0), max(band[1], band[0] + 1.0)
    r_lo, r_hi = lo if lo is not None else 0.0, hi if hi is not None else math.inf
    gap = math.log(r_lo / b_hi) if b_hi < r_lo else math.log(b_lo / r_hi) if b_lo > r_hi else 0.0
    inside = max(0.0, math.log(min(b_hi, r_hi)) - math.log(max(b_lo, r_lo, 1.0))) if r_hi > b_lo else 0.0
    share = inside / math.log(b_hi / b_lo)
    return 0.5 * _clip(1 - gap / math.log(1.6)) + 0.5 * _clip(share)


def _income_band(a: dict[str, Any]) -> tuple[float, float] | None:
    """The cluster's typical income band in dollars ("$75,001 - $100,000"; "$400,001+" is taken
    as up to twice its floor), else its mean income as a point."""
    numbers = [float(n.replace(",", "")) for n in re.findall(r"\d[\d,]*", str(a.get("income_band") or ""))]
    if len(numbers) >= 2:
        return numbers[0], numbers[1]
    if numbers:
        return numbers[0], 2 * numbers[0]
    if "income_mean" in a:
        return float(a["income_mean"]), float(a["income_mean"])
    return None


def _shares(c: ConstraintFields, a: dict[str, Any], negated: bool = False) -> dict[str, tuple[float, float]]:
    """(share of the cluster with the attribute, share that counts as full agreement) per
    share-valued constraint whose attribute ``a`` has. `negated`: what an exclusion rules out;
    ruling out families ("no kids", "child-free") rules out single parents too."""
    out: dict[str, tuple[float, float]] = {}

    def put(name: str, fn: Callable[[], float], full_at: float, *keys: str) -> None:
        if all(k in a for k in keys):
            out[name] = (fn(), full_at)

    if c.age_bands:
        put("age_bands", lambda: sum(a["age_band_shares"].get(b, 0.0) for b in c.age_bands), 0.6, "age_band_shares")
    if c.gender:
        put("gender", lambda: a["gender_shares"].get(c.gender, 0.0), 0.6, "gender_shares")
    if c.credit_tiers:
        put(
            "credit_tiers",
            lambda: sum(a["credit_tier_shares"].get(t, 0.0) for t in c.credit_tiers),
            0.6,
            "credit_tier_shares",
        )
    if c.homeowner is not None:
        put(
            "homeowner",
            lambda: a["homeowner_share"] if c.homeowner else 1 - a["homeowner_share"],
            0.8,
            "homeowner_share",
        )
    if c.equity:
        put(
            "equity",
            lambda: a["equity_high_share"] if c.equity == "high" else 1 - a["equity_high_share"],
            0.8,
            "equity_high_share",
        )
    if c.education:
        if c.education == "college":
            put("education", lambda: a["college_share"], 0.6, "college_share")
        else:
            level = "Graduate degree" if c.education == "graduate" else "High school or less"
            put("education", lambda: a["education_shares"].get(level, 0.0), 0.5, "education_shares")
    if c.household:
        values = [_HOUSEHOLD_VALUES[c.household]]
        if negated and c.household == "family":
            values.append(_HOUSEHOLD_VALUES["single_parent"])
        put("household", lambda: sum(a["household_shares"].get(v, 0.0) for v in values), 0.6, "household_shares")
    if c.credit_usage:
        put("credit_usage", lambda: a["credit_usage_shares"].get(c.credit_usage, 0.0), 0.6, "credit_usage_shares")
    if c.ethnicity:
        put("ethnicity", lambda: a["ethnicity_shares"].get(c.ethnicity, 0.0), 0.4, "ethnicity_shares")
    if c.region:
        put("region", lambda: a["region_shares"].get(c.region, 0.0), 0.5, "region_shares")
    return out


def _ratios(c: ConstraintFields, a: dict[str, Any], negated: bool = False) -> dict[str, float]:
    """Agreement with each level-valued constraint (high/medium/low of a cluster/table ratio);
    `negated`: with its negation ("not rich" fully fits any cluster at or below the table mean)."""
    out: dict[str, float] = {}
    specs = [
        ("income", c.income, "income_index", 2.0),
        ("wealth", c.wealth, "net_worth_index", 1.6),
        ("auto_debt", c.auto_debt, "auto_debt_index", 2.5),
        ("spending", c.spending, "spend_index", 2.0),
    ]
    if c.political_donor is not None:
        specs.append(("political_donor", "high" if c.political_donor else "low", "political_donor_index", 2.0))
    for name, want, key, span in specs:
        if want and key in a:
            if not negated:
                out[name] = _ratio_score(a[key], want, span)
            elif want == "medium":
                out[name] = 1 - _ratio_score(a[key], want, span)
            else:
                x = math.log(max(a[key], 1e-3)) / math.log(span)
                out[name] = _clip(1 - x if want == "high" else 1 + x)
    return out


def constraint_breakdown(c: QueryConstraints, a: dict[str, Any]) -> dict[str, float]:
    """Per-constraint agreement in [0, 1]; constraints whose attribute is missing from
    ``a`` (e.g. an imported data set with other keys) are left out. Excluded constraints
    appear as ``not <name>``: full agreement when few of the cluster have the attribute."""
    out = {name: _share_score(share, full) for name, (share, full) in _shares(c, a).items()}
    out.update(_ratios(c, a))
    band = _income_band(a)
    if (c.income_min is not None or c.income_max is not None) and band is not None:
        out["income_range"] = _band_score(band, c.income_min, c.income_max)
    if (c.spend_min is not None or c.spend_max is not None) and "discretionary_spend_median" in a:
        out["spend_range"] = _range_score(float(a["discretionary_spend_median"]), c.spend_min, c.spend_max)
    ex = c.excluded
    for name, (share, _full) in _shares(ex, a, negated=True).items():
        out[f"not {name}"] = _share_score(1 - share, EXCLUDED_FULL_AT)
    for name, score in _ratios(ex, a, negated=True).items():
        out[f"not {name}"] = score
    return {k: round(v, 4) for k, v in out.items()}


def constraint_score(constraints: QueryConstraints, cluster_attributes: dict[str, Any]) -> float:
    """Weighted mean agreement in [0, 1] of the constraints with a cluster's attributes.

    Returns :data:`NEUTRAL_SCORE` when nothing could be scored; check
    ``constraints.is_empty`` to tell "no constraints" from "neutral agreement".
    """
    parts = constraint_breakdown(constraints, cluster_attributes)
    if not parts:
        return NEUTRAL_SCORE

    def weight(k: str) -> float:
        return _WEIGHTS.get(k.removeprefix("not "), 1.0)

    total = sum(weight(k) for k in parts)
    return round(sum(v * weight(k) for k, v in parts.items()) / total, 4)


def scope_fits(constraints: QueryConstraints, cluster_attributes: dict[str, Any]) -> bool:
    """Whether the people the query is about can be in this cluster at all: not under 18,
    not businesses, and in the cluster's country when the query names another one."""
    for reason in constraints.out_of_scope:
        if reason.startswith("outside the USA"):
            country = str(cluster_attributes.get("country") or "USA").lower()
            place = reason.removeprefix("outside the USA (").rstrip(")")
            if country in ("usa", "us", "united states") or place not in country:
                return False
        else:
            return False
    return True


def persona_matches_hard_constraints(constraints: QueryConstraints, persona_age_band: str, persona_gender: str) -> bool:
    """Hard filter for personas: a named age band (or generation) and a named gender; an
    excluded band or gender removes the persona. A twin whose table had no gender (or age) column
    is not known to differ, so it stays."""
    if constraints.age_bands and known(persona_age_band) and persona_age_band not in constraints.age_bands:
        return False
    if constraints.gender and known(persona_gender) and persona_gender != constraints.gender:
        return False
    if persona_age_band in constraints.excluded.age_bands or persona_gender == constraints.excluded.gender:
        return False
    return True
