"""Rule-based parsing of segment constraints from a free-text query, and how well a
cluster's measured attributes agree with them.

Age words map to the seven age bands as follows (ages in 2025; a band goes to a
word when most of the band's people fit it):

=================================================  ===============================
words                                              bands
=================================================  ===============================
Gen Z, Generation Z, zoomers, students, teens      18 - 24
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

Explicit ages: "25 to 34", "25-34 year old", "between 25 and 34" keep the bands that
overlap the range by at least two years ("25 to 35" is 25 - 34 only); a single age
("a 30-year-old", "aged 40") picks its band; "in their 30s" / "thirties" covers
30-39 ("early"/"late" halve it); "over 65", "65+", "65 and older" is 65 and up;
"under 35" is 18-34.

Explicit ages win over age words when a query has both ("a retired man aged 65 to
74" is 65 - 74 only). An age band named in the query is a hard filter for personas; every other
constraint only scores clusters.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, Field

from store.twin import AGE_BAND_LIMITS, AGE_BANDS

Level = Literal["high", "medium", "low"]

NEUTRAL_SCORE = 0.5  # what constraint_score returns when the query named no constraint


class QueryConstraints(BaseModel):
    """What a query asks of a segment. Empty lists / ``None`` mean "not asked"."""

    age_bands: list[str] = Field(default_factory=list, description="Age bands, in band order.")
    gender: Literal["Female", "Male"] | None = None
    credit_tiers: list[str] = Field(default_factory=list, description="Sub Prime, Near Prime, Prime, Super Prime.")
    income: Level | None = None
    wealth: Literal["high", "low"] | None = None
    auto_debt: Literal["high", "low"] | None = None
    homeowner: bool | None = None
    equity: Literal["high", "low"] | None = None
    education: Literal["high_school", "college", "graduate"] | None = None
    household: Literal["single", "couple", "family", "single_parent", "multi_generational"] | None = None
    political_donor: bool | None = None
    spending: Literal["high", "low"] | None = None
    credit_usage: Literal["low", "moderate", "active"] | None = None
    ethnicity: str | None = None
    region: str | None = None
    matched_terms: list[str] = Field(default_factory=list, description="Query phrases that set a constraint.")

    @property
    def is_empty(self) -> bool:
        """True when the query named no constraint (the flag for a neutral score)."""
        return not any(
            getattr(self, name) not in (None, []) for name in type(self).model_fields if name != "matched_terms"
        )


# ---------------------------------------------------------------- parsing

_Action = Callable[[re.Match[str], dict[str, Any]], None]


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


def _age_range(lo_group: int | None, hi_group: int | None, lo: int = 0, hi: int = 0) -> _Action:
    """Ages from the match's groups (1-based) or fixed bounds."""

    def act(m: re.Match[str], found: dict[str, Any]) -> None:
        a = int(m.group(lo_group)) if lo_group else lo
        b = int(m.group(hi_group)) if hi_group else hi
        if 16 <= a <= b <= 120:
            _add("explicit_bands", *_bands_for_range(max(a, 18), b))(m, found)

    return act


_DECADES = {
    "twenties": 20,
    "thirties": 30,
    "forties": 40,
    "fifties": 50,
    "sixties": 60,
    "seventies": 70,
    "eighties": 80,
}


def _decade(m: re.Match[str], found: dict[str, Any]) -> None:
    word = m.group("decade")
    start = _DECADES[word] if word in _DECADES else int(word)
    lo, hi = start, start + 9
    part = m.group("part")
    if part == "early":
        hi = start + 4
    elif part == "late":
        lo = start + 5
    elif part == "mid":
        lo, hi = start + 3, start + 6
    _add("explicit_bands", *_bands_for_range(max(lo, 18), hi))(m, found)


def _income_amount(m: re.Match[str], found: dict[str, Any]) -> None:
    """A dollar figure ("$75,001 - $100,000", "$150k+"): the first one sets the income level."""
    raw = m.group("amount").replace(",", "").replace(" ", "")
    amount = float(raw[:-1]) * 1000 if raw.endswith("k") else float(raw)
    level = "high" if amount >= 100_000 else "low" if amount <= 50_000 else "medium"
    found.setdefault("income", level)


def _bands(*bands: str) -> _Action:
    return _add("age_bands", *bands)


_YOUNG = ("18 - 24", "25 - 34")
_MILLENNIAL = ("25 - 34", "35 - 44")
_GEN_X = ("45 - 54", "55 - 64")
_OLD = ("65 - 74", "75+")
_AGE_NUM = r"(?<![\$\d,.])(\d{2})(?![\d,])"
_YEARS_OLD = r"(?:\s*[- ]?\s*(?:years?|yrs?)[- ]?(?:olds?|of age)?)"

# Most specific first: a phrase consumed by one rule is blanked out for the rest.
_RULE_SPECS: list[tuple[str, _Action]] = [
    # --- explicit ages
    (rf"\bbetween\s+{_AGE_NUM}\s+and\s+{_AGE_NUM}", _age_range(1, 2)),
    (rf"{_AGE_NUM}\s*(?:-|to|through)\s*{_AGE_NUM}{_YEARS_OLD}?", _age_range(1, 2)),
    (
        rf"(?:\bover|\bolder than|\babove|\bat least|\bpast)\s+(?:the age of\s+|age\s+)?{_AGE_NUM}",
        _age_range(1, None, hi=120),
    ),
    (rf"{_AGE_NUM}\s*(?:\+|\s+(?:and|or)\s+(?:older|over|above|up))", _age_range(1, None, hi=120)),
    (rf"(?:\bunder|\byounger than|\bbelow)\s+(?:the age of\s+|age\s+)?{_AGE_NUM}", _age_range(None, 1, lo=18)),
    (rf"{_AGE_NUM}\s+(?:and|or)\s+(?:younger|under|below)", _age_range(None, 1, lo=18)),
    (r"(?:\b(?P<part>early|mid|late)[- ]?)?\b(?P<decade>[2-8]0)'?s\b", _decade),
    (
        r"(?:\b(?P<part>early|mid|late)[- ]?)?\b(?P<decade>twenties|thirties|forties|fifties|sixties|seventies|eighties)\b",
        _decade,
    ),
    (rf"{_AGE_NUM}{_YEARS_OLD}", _age_range(1, 1)),
    (rf"\bage[ds]?\s+{_AGE_NUM}", _age_range(1, 1)),
    # --- life-stage phrases that also say something else
    (r"\bsingle[- ](?:moms?|mothers?)\b", _both(_set("household", "single_parent"), _gender("Female"))),
    (r"\bsingle[- ](?:dads?|fathers?)\b", _both(_set("household", "single_parent"), _gender("Male"))),
    (
        r"\braising (?:kids|children|a family) (?:alone|solo|on (?:their|her|his) own)\b|\b(?:single|lone|solo)[- ]parents?\b|\bsingle[- ]parent(?:ed)? (?:households?|homes?|families)",
        _set("household", "single_parent"),
    ),
    (r"\byoung (?:families|parents)\b", _both(_bands(*_MILLENNIAL), _set("household", "family"))),
    (r"\bempty[- ]nesters?\b", _both(_bands("55 - 64", "65 - 74"), _set("household", "couple"))),
    (r"\bcollege[- ]age\b|\b(?:college |university )?students?\b|\bteens?\b|\bteenagers?\b", _bands("18 - 24")),
    (r"\byoung professionals?\b", _bands("25 - 34")),
    (
        r"\bliving with (?:their |his |her )?parents\b|\bmulti[- ]?generational\b|\bextended famil(?:y|ies)\b",
        _set("household", "multi_generational"),
    ),
    # --- generations and age words
    (r"\b(?:gen(?:eration)?[- ]?z|zoomers?|genz)\b", _bands("18 - 24")),
    (r"\b(?:millennials?|gen(?:eration)?[- ]?y)\b", _bands(*_MILLENNIAL)),
    (r"\b(?:gen(?:eration)?[- ]?x|xers?)\b", _bands(*_GEN_X)),
    (r"\b(?:baby[- ])?boomers?\b", _bands(*_OLD)),
    (r"\bsilent generation\b|\bgreatest generation\b", _bands("75+")),
    (r"\bpre[- ]?retirees?\b|\b(?:near|nearing|approaching|close to|on the verge of) retirement\b", _bands("55 - 64")),
    (
        r"\bretirees?\b|\bretired\b|\bin retirement\b|\bseniors?\b|\bsenior citizens?\b|\belderly\b|\bpensioners?\b"
        r"|\bolder (?:adults?|consumers?|americans?|people|customers?|shoppers?|borrowers?)\b|\bgolden years\b",
        _bands(*_OLD),
    ),
    (r"\bmiddle[- ]aged?\b|\bmidlife\b", _bands(*_GEN_X)),
    (r"\bmid[- ]career\b", _bands("35 - 44", "45 - 54")),
    (r"\byoung(?:er)?\b|\byouth\b", _bands(*_YOUNG)),
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
        r"\bsub[- ]?prime\b|\b(?:bad|poor|damaged|bruised|weak|low|impaired|subpar) credit(?: scores?| ratings?)?\b"
        r"|\bcredit[- ]challenged\b|\brisky borrowers\b",
        _add("credit_tiers", "Sub Prime"),
    ),
    (
        r"\b(?:strong|high|solid) credit(?: scores?| ratings?)?\b|\bcreditworthy\b",
        _add("credit_tiers", "Prime", "Super Prime"),
    ),
    (r"\bprime\b|\b(?:good|decent) credit\b", _add("credit_tiers", "Prime")),
    # --- credit usage
    (r"\bmoderate credit (?:users?|usage|use)\b", _set("credit_usage", "moderate")),
    (
        r"\b(?:active|heavy|frequent|high) credit (?:users?|usage|use)\b|\bcredit[- ](?:active|hungry|reliant|dependent)\b"
        r"|\brevolvers\b|\brely (?:heavily )?on credit\b|\bmaxed[- ]out\b|\buse credit (?:heavily|actively|a lot|often)\b",
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
        r"\b(?:no|without|zero|low|little|minimal|few|light|paid[- ]off)\s+(?:auto|car|vehicle|truck)\s*(?:debt|loans?|payments?|balances?|financing)\b"
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
        r"\bhigh(?:er)?[- ](?:incomes?|earning|earners?|salar(?:y|ies|ied))\b|\baffluent\b|\bsix[- ]figure\b|\bwell[- ](?:off|paid)\b"
        r"|\bupper[- ](?:income|middle[- ]class|class)\b|\b(?:top|big) earners\b|\bhigh incomes?\b|\bearn(?:s|ing)? a lot\b",
        _set("income", "high"),
    ),
    (
        r"\blow(?:er)?[- ](?:incomes?|earning|earners?|wages?|paid)\b|\bpaycheck[- ]to[- ]paycheck\b|\bstruggling\b"
        r"|\bworking poor\b|\bmodest (?:incomes?|means)\b|\bfixed[- ]incomes?\b|\btight budgets?\b"
        r"|\b(?:budget[- ]constrained|financially (?:stretched|strained)|stretched thin|cash[- ]strapped)\b|\bpoor\b",
        _set("income", "low"),
    ),
    (r"\$\s?(?P<amount>\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?\s?k)\b", _income_amount),
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
        r"\bfamil(?:y|ies)\b|\bparents\b|\b(?:with|raising|have|having) (?:young )?(?:kids|children)\b",
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


def _normalise(query: str) -> str:
    text = query.lower().replace("\u2019", "'")
    text = re.sub(r"[\u2010-\u2015]", "-", text)
    return re.sub(r"\s+", " ", text)


def parse_constraints(query: str) -> QueryConstraints:
    """Constraints named in ``query``; phrases are matched most-specific first and each
    phrase is used once (so "super prime" never also counts as "prime")."""
    text = _normalise(query)
    found: dict[str, Any] = {}
    matched: list[str] = []
    for rule in _RULES:
        for m in list(rule.pattern.finditer(text)):
            rule.action(m, found)
            matched.append(m.group(0).strip())
        text = rule.pattern.sub(lambda m: " " * len(m.group(0)), text)
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
    return QueryConstraints(**found, matched_terms=matched)


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


def constraint_breakdown(c: QueryConstraints, a: dict[str, Any]) -> dict[str, float]:
    """Per-constraint agreement in [0, 1]; constraints whose attribute is missing from
    ``a`` (e.g. an imported data set with other keys) are left out."""
    out: dict[str, float] = {}

    def put(name: str, fn: Callable[[], float], *keys: str) -> None:
        if all(k in a for k in keys):
            out[name] = round(fn(), 4)

    if c.age_bands:
        put(
            "age_bands",
            lambda: _share_score(sum(a["age_band_shares"].get(b, 0.0) for b in c.age_bands), 0.6),
            "age_band_shares",
        )
    if c.gender:
        put("gender", lambda: _share_score(a["gender_shares"].get(c.gender, 0.0), 0.6), "gender_shares")
    if c.credit_tiers:
        put(
            "credit_tiers",
            lambda: _share_score(sum(a["credit_tier_shares"].get(t, 0.0) for t in c.credit_tiers), 0.6),
            "credit_tier_shares",
        )
    if c.income:
        income = c.income
        put("income", lambda: _ratio_score(a["income_index"], income, 2.0), "income_index")
    if c.wealth:
        wealth = c.wealth
        put("wealth", lambda: _ratio_score(a["net_worth_index"], wealth, 1.6), "net_worth_index")
    if c.auto_debt:
        auto_debt = c.auto_debt
        put("auto_debt", lambda: _ratio_score(a["auto_debt_index"], auto_debt, 2.5), "auto_debt_index")
    if c.spending:
        spending = c.spending
        put("spending", lambda: _ratio_score(a["spend_index"], spending, 2.0), "spend_index")
    if c.political_donor is not None:
        want = "high" if c.political_donor else "low"
        put("political_donor", lambda: _ratio_score(a["political_donor_index"], want, 2.0), "political_donor_index")
    if c.homeowner is not None:
        put(
            "homeowner",
            lambda: _share_score(a["homeowner_share"] if c.homeowner else 1 - a["homeowner_share"], 0.8),
            "homeowner_share",
        )
    if c.equity:
        put(
            "equity",
            lambda: _share_score(a["equity_high_share"] if c.equity == "high" else 1 - a["equity_high_share"], 0.8),
            "equity_high_share",
        )
    if c.education:
        if c.education == "college":
            put("education", lambda: _share_score(a["college_share"], 0.6), "college_share")
        else:
            level = "Graduate degree" if c.education == "graduate" else "High school or less"
            put("education", lambda: _share_score(a["education_shares"].get(level, 0.0), 0.5), "education_shares")
    if c.household:
        value = _HOUSEHOLD_VALUES[c.household]
        put("household", lambda: _share_score(a["household_shares"].get(value, 0.0), 0.6), "household_shares")
    if c.credit_usage:
        put(
            "credit_usage",
            lambda: _share_score(a["credit_usage_shares"].get(c.credit_usage, 0.0), 0.6),
            "credit_usage_shares",
        )
    if c.ethnicity:
        put("ethnicity", lambda: _share_score(a["ethnicity_shares"].get(c.ethnicity, 0.0), 0.4), "ethnicity_shares")
    if c.region:
        put("region", lambda: _share_score(a["region_shares"].get(c.region, 0.0), 0.5), "region_shares")
    return out


def constraint_score(constraints: QueryConstraints, cluster_attributes: dict[str, Any]) -> float:
    """Weighted mean agreement in [0, 1] of the constraints with a cluster's attributes.

    Returns :data:`NEUTRAL_SCORE` when nothing could be scored; check
    ``constraints.is_empty`` to tell "no constraints" from "neutral agreement".
    """
    parts = constraint_breakdown(constraints, cluster_attributes)
    if not parts:
        return NEUTRAL_SCORE
    total = sum(_WEIGHTS.get(k, 1.0) for k in parts)
    return round(sum(v * _WEIGHTS.get(k, 1.0) for k, v in parts.items()) / total, 4)


def persona_matches_hard_constraints(constraints: QueryConstraints, persona_age_band: str, persona_gender: str) -> bool:
    """Hard filter for personas: a named age band (or generation) and a named gender."""
    if constraints.age_bands and persona_age_band not in constraints.age_bands:
        return False
    if constraints.gender and persona_gender != constraints.gender:
        return False
    return True
