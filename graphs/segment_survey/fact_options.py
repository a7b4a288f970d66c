"""The survey options a respondent's record facts rule out.

A segment survey asks each twin a closed question and a small local model scores the options; the
model often ignores the persona's profile, so a renter answers "Own" and a 30-year-old "65 or
older". `ruled_out` works out which record fact the question asks about, reads each option as a
value of that fact and names the options that contradict the persona's, so the survey can leave
them out. It speaks the chat fact checker's vocabulary (`graphs.persona_chat.facts`): the same fact
keys, households, education levels, credit tiers, US Census regions and wording, so a twin's survey
answers and its chat replies are held to the same facts.

Topics: home ownership, auto loans, children at home, household make-up and size, education,
credit, place of residence (state, region, country), household income, age, gender and political
giving.

It is conservative: an unclear topic, a question about the past, the future or someone else, a
missing fact or an option it cannot read ("Other", "Not sure") rules nothing out, ranges are ruled
out only when they cannot overlap the persona's, and it never leaves the persona without an option
it could truthfully give.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, NamedTuple, TypeVar

from domain.consumer import CREDIT_TIER_NAMES, EDUCATION_LEVELS, HOUSEHOLDS, KIDS_HOUSEHOLDS, PARTNER_HOUSEHOLDS
from graphs.age_words import decade_span
from graphs.persona_chat.facts import (
    ADJECTIVE_TIERS,
    CITIES,
    COUNTRIES,
    GROWN_CHILDREN_AGE,
    HOUSEHOLD_TEXT,
    REGION_NAMES,
    STATE_CODES,
    STATE_REGION,
    US_NAMES,
    US_STATES,
    band_limits,
    money_value,
    normalise_facts,
    normalise_tier,
    parse_age_band,
    tiers_for_score,
)

INF = math.inf
Interval = tuple[float, float]
H = TypeVar("H")


def ruled_out(question: str, options: Sequence[str], facts: Mapping[str, Any]) -> dict[str, str]:
    """Options a respondent with these facts could not truthfully give, each with the fact it
    contradicts ("Own": "you rent your home").

    `facts` are in the chat checker's keys (`normalise_facts`; raw record attributes work too).
    Empty when the topic is unclear, the question is about the past, the future or someone else,
    the fact is missing, or no readable option would be left.
    """
    facts = normalise_facts(facts)
    cleaned = tuple(_clean(o) for o in options)
    q = _Question(_clean(question), cleaned, {c: str(o).strip() for c, o in zip(cleaned, options, strict=True)})
    if not facts or len(set(q.options)) < 2:
        return {}
    topic = _topic(q)
    if topic is None or _off_limits(q.text, topic.name):
        return {}
    readings = _readings(topic, q)
    out: dict[str, str] = {}
    for option, text in zip(options, q.options, strict=True):
        if text in readings and (reason := topic.judge(readings[text], facts, q.text)):
            out[option] = reason
    # A real answer must remain ("Prefer not to say" is none): when every one is ruled out, the
    # scale does not fit the facts or we misread it.
    if all(option in out or _UNREADABLE.search(text) for option, text in zip(options, q.options, strict=True)):
        return {}
    return out


# --- question and options ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Question:
    text: str
    options: tuple[str, ...]  # cleaned, as the readers see them
    raw: Mapping[str, str]  # cleaned option -> as written ("TX" is a state, "tx" might not be)


@dataclass(frozen=True)
class _Span(Generic[H]):
    """The values of a fact an answer allows (`may`) and those it surely covers (`sure`): "No" to
    "Do you have a college degree?" allows every level a "Yes" does not surely cover."""

    may: frozenset[H]
    sure: frozenset[H]

    def __or__(self, other: _Span[H]) -> _Span[H]:
        return _Span(self.may | other.may, self.sure | other.sure)

    def negate(self, universe: frozenset[H]) -> _Span[H] | None:
        may = universe - self.sure
        return _Span(may, universe - self.may) if may else None


def _span(values: Any, sure: Any = None) -> _Span[Any]:
    values = frozenset(values)
    return _Span(values, values if sure is None else frozenset(sure))


def _clean(text: str) -> str:
    text = str(text).lower().replace("’", "'").replace("‘", "'").replace("–", "-").replace("—", "-")
    return re.sub(r"\s+", " ", text).strip()


# Options no fact can contradict: the respondent declines, hedges or answers something else.
_UNREADABLE = re.compile(
    r"^(?:other|others|something\s+else|none\s+of\s+(?:the\s+)?(?:above|these)|neither|n/?a)\b|"
    r"\b(?:not\s+sure|unsure|(?:don't|do\s+not)\s+know|no\s+idea|prefer\s+not|rather\s+not|declined?|refused?|"
    r"no\s+answer|no\s+opinion|no\s+preference|not\s+applicable|can't\s+say|cannot\s+say|depends|sometimes|"
    r"partly|partially|except|although|though|used\s+to|grown|moved\s+out|self-describe|specify)\b"
)
_YES = re.compile(r"^(?:yes|yeah|yep|yup|true|correct|absolutely|definitely)\b|^i\s+(?:do|am|have|did)\W*$")
_NO = re.compile(
    r"^(?:no|nope|nah|false)\b|^(?:i\s+(?:don't|do\s+not|am\s+not|haven't|have\s+not|didn't|did\s+not)|i'm\s+not|"
    r"not\s+(?:currently|now|right\s+now|at\s+(?:the\s+moment|this\s+time)|at\s+all|really))\W*$"
)


def _yes_no(option: str) -> bool | None:
    """True for "Yes" / "Yes, I do" / "I do", False for "No" / "I don't"; a hedged "Yes, but" is neither."""
    if re.search(r"\bbut\b", option):
        return None
    if _NO.search(option):
        return False
    if _YES.search(option):
        return True
    return None


# --- topics -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Topic:
    """One fact a question can ask about. `read` takes an option's own words; `ask` says what
    "Yes" and "No" mean for the question; `judge` gives the reason a reading contradicts the facts."""

    name: str
    asks: Callable[[str], bool]
    ask: Callable[[str], tuple[Any, Any]]
    read: Callable[[str, _Question], Any]
    judge: Callable[[Any, Mapping[str, Any], str], str | None]


def _readings(topic: _Topic, q: _Question) -> dict[str, Any]:
    """Option -> what it says about the topic's fact, for the options that can be read."""
    yes, no = topic.ask(q.text)
    out: dict[str, Any] = {}
    for option in q.options:
        if _UNREADABLE.search(option):
            continue
        reading = topic.read(option, q)
        if reading is None and (answer := _yes_no(option)) is not None:
            reading = yes if answer else no
        if reading is not None:
            out[option] = reading
    return out


# A topic that a question matches along with one of these is decided by them ("household income"
# is income, "children in your household" is about children).
_DOMINATED_BY = {
    "household": {"size", "children", "income"},
    "children": {"size", "income"},
}


def _topic(q: _Question) -> _Topic | None:
    matched = [t for t in _TOPICS if t.asks(q.text)]
    names = {t.name for t in matched}
    matched = [t for t in matched if not _DOMINATED_BY.get(t.name, set()) & names]
    if len(matched) <= 1:
        return matched[0] if matched else None
    # still several: the one whose reading fits strictly more options, else unclear
    counts = sorted(((len(_readings(t, q)), i) for i, t in enumerate(matched)), reverse=True)
    if counts[0][0] == counts[1][0]:
        return None
    return matched[counts[0][1]]


_OTHERS = (
    r"(?:parents?|mother|father|mom|dad|spouse|partner|husband|wife|child|children|kids?|sons?|daughters?|"
    r"friends?|neighbou?rs?|siblings?|brothers?|sisters?|grandparents?|grandmother|grandfather|roommates?|"
    r"boss|employer|landlord|family\s+members?|relatives?)"
)
_VERBS = (
    r"(?:own|owns|rent|rents|earn|earns|make|makes|has|have|had|hold|holds|is|are|was|were|did|do|does|live|"
    r"lives|lived|go|goes|went|attend|attends|attended|graduate|graduated|complete|completed|drive|drives|work|works)"
)
_SOMEONE_ELSE = re.compile(
    r"(?<!you and )\byour\s+(?:\w+\s+)?" + _OTHERS + r"(?:'s?(?!\w)|\s+" + _VERBS + r"\b)|"
    r"\b(?:is|are|was|were|do|does|did|has|have|had|can|will|would)\s+your\s+(?:\w+\s+)?" + _OTHERS + r"\b|"
    r"\bof\s+your\s+(?:\w+\s+)?" + _OTHERS + r"\b|"
    r"\b(?:anyone|anybody|someone|somebody|everyone)\s+(?:in|else|who|that|you\s+know)\b|\bdo\s+you\s+know\b|"
    r"\b(?:americans|the\s+average|a\s+typical|"
    r"(?:most|(?<!how\s)many|some|other)\s+(?:people|americans|households|families|adults|consumers)|"
    r"people\s+(?:like\s+you|your\s+age|in\s+your\s+(?:area|community|neighbou?rhood|city|state|town))|"
    r"your\s+(?:community|area|neighbou?rhood|generation|peers))\b"
)
# Usual survey wording, not a hypothetical: "How would you rate your credit?"
_SURVEY_PHRASES = re.compile(
    r"\bhow\s+would\s+you\s+(?:best\s+)?(?:rate|describe|characteri[sz]e|classify|categori[sz]e|say|rank)\b|"
    r"\bwould\s+you\s+(?:say|describe|rate|classify)\b|\bwhich\s+(?:of\s+the\s+following\s+)?would\s+best\b|"
    r"\bconsider\s+yourself\b|\b(?:indicate|tell\s+us|say|state|specify)\s+(?:whether|if)\b"
)
_HYPOTHETICAL = re.compile(
    r"\b(?:would|will|could|should|might|shall)\s+(?:you|your)\b|\byou(?:'d|'ll|\s+would|\s+will|\s+could|\s+might)\b|"
    r"\b(?:plan|plans|planning|intend|intends|expect|hope|hoping|want|wants|wish|prefer|rather|ideal|ideally|dream|"
    r"someday|future|next\s+(?:year|month|\w+\s+years)|going\s+to|thinking\s+(?:of|about)|considering|consider|"
    r"imagine|suppose|likely|likelihood|afford|enough)\b|\bone\s+day\b|\bif\s+(?:you|your)\b"
)
_SOFT_PAST = re.compile(r"\b(?:did|was|were|had|ever|previously|formerly|used\s+to)\b|\bbefore\b(?!\s+(?:taxes|tax))")
_HARD_PAST = re.compile(
    r"\b(?:ago|growing\s+up|grew\s+up|as\s+a\s+(?:child|kid|teen|teenager)|when\s+you\s+were|"
    r"at\s+(?:the\s+)?age\s+(?:of\s+)?\d+|first|childhood|back\s+then|born|last|past|previous|prior|"
    r"in\s+(?:19|20)\d\d)\b"
)
# Income and political giving are asked about the last year as often as about now; the record's
# yearly figure stands for both.
_RECENT = re.compile(
    r"\b(?:in\s+)?(?:the\s+)?(?:last|past|previous|prior)\s+(?:year|12\s+months|twelve\s+months|calendar\s+year|"
    r"tax\s+year)\b|\bin\s+20\d\d\b"
)
_STUDYING = re.compile(
    r"\b(?:enrolled|student|studying|pursuing|currently\s+(?:attending|in\s+school|taking)|going\s+back|"
    r"return\s+to\s+school|tuition)\b"
)


def _off_limits(q: str, topic: str) -> bool:
    """Whether the question asks about someone else, a hypothetical or the past, which the record
    does not answer. Education is always the past ("Did you graduate from college?")."""
    if _SOMEONE_ELSE.search(q) or _HYPOTHETICAL.search(_SURVEY_PHRASES.sub(" ", q)):
        return True
    if topic == "education":
        return bool(_HARD_PAST.search(q) or _STUDYING.search(q))
    if topic in ("income", "giving") and _RECENT.search(q):
        return bool(_HARD_PAST.search(_RECENT.sub(" ", q)))
    return bool(_SOFT_PAST.search(q) or _HARD_PAST.search(q))


def _negate_interval(interval: Interval | None, floor: float, ceil: float) -> Interval | None:
    """The rest of [floor, ceil] when `interval` is open at one end ("over 50" -> "50 or under")."""
    if interval is None:
        return None
    lo, hi = interval
    if lo <= floor and hi < ceil:
        return hi + 1, ceil
    if hi >= ceil and lo > floor:
        return floor, lo - 1
    return None


def _overlap(a: Interval, b: Interval) -> bool:
    return a[0] <= b[1] and b[0] <= a[1]


# --- counts ("Yes, one", "2 or more", "None") -----------------------------------------------------

_COUNT_WORDS = {
    "zero": 0, "none": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10,
}  # fmt: skip
_N = r"(\d{1,2}|zero|one|two|three|four|five|six|seven|eight|nine|ten)"


def _count(word: str) -> float:
    return float(_COUNT_WORDS[word]) if word in _COUNT_WORDS else float(word)


def _count_range(text: str) -> Interval | None:
    text = re.sub(r"\bno\s+one\b", "nobody", text)
    if m := re.search(r"\b" + _N + r"\s*(?:\+|or\s+more|or\s+over|and\s+(?:up|over|above|more)|plus)", text):
        return _count(m[1]), INF
    if m := re.search(r"\b(?:more\s+than|over)\s+" + _N + r"\b", text):
        return _count(m[1]) + 1, INF
    if re.search(r"\b(?:multiple|several|many)\b", text):
        return 2, INF
    if m := re.search(r"\b" + _N + r"\s*(?:-|to)\s*" + _N + r"\b", text):
        return _count(m[1]), _count(m[2])
    if re.search(r"\b(?:none|zero)\b", text):
        return 0, 0
    found = re.findall(r"\b" + _N + r"\b", text)
    if len(found) == 1:
        return _count(found[0]), _count(found[0])
    return None


# --- home ownership ------------------------------------------------------------------------------

_OWN = re.compile(
    r"\b(?:own|owns|owned|owner|owners|homeowners?|home\s*owners?|homeownership|owning|mortgage|paid\s+off|"
    r"outright|buying)\b"
)
_RENT = re.compile(r"\b(?:rent|rents|rented|renting|renters?|tenants?|lease|leased|leasing)\b(?![- ]free)")
_HOME_WORDS = re.compile(
    r"\b(?:home|house|residence|place|apartment|condo|dwelling|housing|property|townhouse|where\s+you\s+live)\b"
)
_NOT_YOUR_HOME = re.compile(
    r"\brent(?:s|ing)?\s+out\b|\bsublet|\bairbnb\b|\bvacation\b|\bsecond\s+home\b|\binvestment\s+propert|"
    r"\brental\s+propert|\binsurance\b|\blandlord\b|\b(?:own|rent|lease)\w*\s+(?:a|your|the)\s+(?:car|vehicle|truck)\b"
)


def _asks_home(q: str) -> bool:
    if _NOT_YOUR_HOME.search(q):
        return False
    if re.search(
        r"\b(?:homeowners?|home\s*owners?(?:hip)?|homeownership|renters?|renting|mortgage|tenure|"
        r"housing\s+(?:situation|status|arrangement)|living\s+(?:situation|arrangement))\b|\b(?:own|rent)\s+or\s+(?:own|rent)\b",
        q,
    ):
        return True
    return bool(re.search(r"\b(?:own|owns|owned|rent|rents|rented|lease|leased)\b", q) and _HOME_WORDS.search(q))


def _ask_home(q: str) -> tuple[bool | None, bool | None]:
    own, rent = _OWN.search(q), _RENT.search(q)
    if bool(own) == bool(rent):
        return None, None  # "Do you own or rent?" cannot be answered Yes
    if rent:
        return False, True
    if re.search(r"\b(?:mortgage|outright|paid\s+off|free\s+and\s+clear)\b", q):
        return True, None  # an owner may have no mortgage, or one
    return True, False


def _read_home(option: str, q: _Question) -> bool | None:
    """True: owns the home; False: rents it. Living with family, rent-free, is neither."""
    if re.search(
        r"\b(?:live|living|stay|staying)\s+with\b|\brent[- ]free\b|\bparents?\b|\bfamily\b|\bfriends?\b|\bdorm|"
        r"\bmilitary\b|\bhomeless\b|\bshelter\b|\bsubsidi[sz]ed\b|\bpublic\s+housing\b|"
        r"\b(?:without|no)\s+(?:paying\s+|payment\s+of\s+|cash\s+)?rent\b",
        option,
    ):
        return None
    not_own = re.search(r"\b(?:don't|do\s+not|doesn't|not)\s+own\b", option)
    not_rent = re.search(r"\b(?:don't|do\s+not|doesn't|not)\s+rent\b", option)
    own = bool(_OWN.search(option)) and not not_own
    rent = bool(_RENT.search(option) or re.search(r"\blandlord\b", option) or not_own) and not not_rent
    if own != rent:
        return own
    return None


def _yes_no_judge(key: str, yes: str, no: str) -> Callable[[bool, Mapping[str, Any], str], str | None]:
    """The judge of a yes/no fact: an answer that says otherwise gets the fact's own sentence."""

    def judge(said: bool, facts: Mapping[str, Any], q: str) -> str | None:
        fact = facts.get(key)
        if fact is None or said == fact:
            return None
        return yes if fact else no

    return judge


_judge_home = _yes_no_judge("homeowner", "you own your home", "you rent your home")


# --- auto loans ----------------------------------------------------------------------------------

_CAR = r"(?:car|auto|automobile|vehicle|truck|suv|motorcycle)"
_AUTO_Q = re.compile(
    r"\b" + _CAR + r"\s+(?:loans?|payments?|financing|notes?|debt)\b|\bauto[- ]?loans?\b|"
    r"\bfinanc\w*\s+(?:a|your|the|my)\s+(?:\w+\s+)?"
    + _CAR
    + r"\b|\bloans?\s+(?:on|for)\s+(?:a|your|the)\s+"
    + _CAR
    + r"\b|\bowe\s+(?:money\s+)?on\s+(?:a|your)\s+"
    + _CAR
    + r"\b"
)


def _ask_auto(q: str) -> tuple[Interval | None, Interval | None]:
    if re.search(r"\b(?:paid\s+off|pay\s+off|outright|free\s+of|debt[- ]free|lease|leasing|how\s+many)\b", q):
        return None, None
    yes: Interval = (
        (2, INF) if re.search(r"\b(?:more\s+than\s+one|multiple|two\s+or\s+more|several)\b", q) else (1, INF)
    )
    return yes, _negate_interval(yes, 0, INF)


def _read_auto(option: str, q: _Question) -> Interval | None:
    """How many auto loans the option says the respondent has ("Yes, one" -> 1..1)."""
    if re.search(r"\b(?:paid\s+off|outright|cash|lease|leased|leasing)\b", option):
        return None  # says how a car is held, not whether another one carries a loan
    if re.search(
        r"\b(?:don't|do\s+not|doesn't)\s+(?:own|have)\s+(?:a\s+|any\s+)?" + _CAR + r"s?\b|"
        r"\bno\s+" + _CAR + r"s?\b(?!\s+(?:loans?|payments?|notes?|debt|financing))|\b(?:don't|do\s+not)\s+drive\b",
        option,
    ):
        return 0, 0  # no car, so no car loan
    if re.search(
        r"\bno\s+(?:\w+\s+)?(?:loans?|payments?|financing|debt)\b|"
        r"\b(?:don't|do\s+not)\s+have\s+(?:a|an|any)\s+(?:\w+\s+)?(?:loans?|payments?)\b",
        option,
    ):
        return 0, 0
    if (count := _count_range(option)) is not None:
        return count
    if re.search(r"\b(?:financ\w*|loans?|making\s+payments|monthly\s+payments?)\b", option):
        return 1, INF
    return None


def _judge_auto(count: Interval, facts: Mapping[str, Any], q: str) -> str | None:
    n = facts.get("auto_loans")
    if n is None or count[0] <= n <= count[1]:
        return None
    return f"you have {n} auto loan{'s' if n != 1 else ''}" if n else "you have no auto loan"


# --- children at home ----------------------------------------------------------------------------

_KIDS = r"(?:children|child|kids?|sons?|daughters?|minors?|teenagers?|toddlers?|babies|baby)"
_AT_HOME = re.compile(
    r"\b(?:at\s+home|in\s+(?:your|the)\s+(?:home|household|house)|in\s+your\s+care|(?:live|living|lives|reside)\s+"
    r"with\s+you|do\s+you\s+live\s+with|household|under\s+(?:the\s+age\s+of\s+)?18|under\s+eighteen|minors?|"
    r"living\s+at\s+home)\b"
)
_AGE_PHRASE = re.compile(
    r"\b(?:under|over|below|above|older\s+than|younger\s+than|aged?|age\s+of)\s+\d+\b|\b\d+\s*(?:years?|yrs?)(?:\s+old)?\b"
)


def _asks_children(q: str) -> bool:
    if re.search(r"\bare\s+you\s+a\s+parent\b", q):
        return True
    return bool(
        re.search(r"\b" + _KIDS + r"\b", q)
        and re.search(
            r"\b(?:have|are\s+there|is\s+there|how\s+many|number\s+of|live|living|lives|at\s+home|household)\b", q
        )
    )


def _ask_children(q: str) -> tuple[bool | None, bool | None]:
    if re.search(r"\b(?:no|without)\s+(?:\w+\s+)?" + _KIDS + r"|\bchild(?:less|-?free)\b", q):
        return None, None
    return True, False


def _read_children(option: str, q: _Question) -> bool | None:
    text = _AGE_PHRASE.sub(" ", option)
    if re.search(r"\b(?:no|without|zero)\s+(?:\w+\s+)?" + _KIDS + r"\b|\bchild(?:less|-?free)\b|\bnone\b", text):
        return False
    if (count := _count_range(text)) is not None:
        return count[0] > 0
    if re.search(r"\b" + _KIDS + r"\b", text) and not re.search(r"\b(?:no|not|don't|never)\b", text):
        return True
    return None


def _judge_children(kids: bool, facts: Mapping[str, Any], q: str) -> str | None:
    fact = facts.get("children")
    if fact is None or kids == fact:
        return None
    if fact:
        return "children live with you"
    if not _AT_HOME.search(q):
        # "Do you have children?" may mean grown ones living elsewhere (the chat checker's rule)
        age = _age_floor(facts)
        if (age is not None and age >= GROWN_CHILDREN_AGE) or facts.get("household") not in ("Single", "Couple", None):
            return None
    return "no children live with you"


def _age_floor(facts: Mapping[str, Any]) -> int | None:
    if "age" in facts:
        return int(facts["age"])
    if facts.get("age_band"):
        try:
            return parse_age_band(facts["age_band"])[0]
        except ValueError:
            return None
    return None


# --- household make-up and size ------------------------------------------------------------------


class _Dims(NamedTuple):
    """A household as the options speak of it: living alone, with a spouse or partner, with
    children; None where the wording does not say."""

    alone: bool | None
    partner: bool | None
    kids: bool | None


_MULTI = HOUSEHOLDS[4]  # "Multi-generational": relatives of other generations, partner and children unknown
_PARTNER = r"(?:spouse|partner|husband|wife|married|couple|significant\s+other|boyfriend|girlfriend|fianc[eé]e?|two[- ]parent|domestic\s+partnership|cohabit\w*)"
_RELATIVES = (
    r"\bwith\s+(?:my\s+|our\s+)?(?:\w+\s+)?(?:parents?|grandparents?|in-?laws|relatives|family\s+members|"
    r"roommates?|housemates?|friends|siblings?|brothers?|sisters?|others|other\s+(?:adults|people|family))\b|"
    r"\b(?:grandparents?|in-?laws|relatives|extended\s+family|multi-?generational|roommates?|housemates?|"
    r"flatmates?|three\s+generations|unrelated)\b"
)
_MARITAL_Q = re.compile(r"\bmarital\b|\bmarried\b|\brelationship\s+status\b")


def _asks_household(q: str) -> bool:
    return bool(
        re.search(
            r"\bhousehold\b|\bwho\s+(?:do\s+you\s+live|else\s+lives|lives\s+with\s+you)\b|\bliv(?:e|es|ing)\s+with\b|"
            r"\bliv(?:e|ing)\s+(?:all\s+)?(?:alone|by\s+yourself|on\s+your\s+own)\b|\bliving\s+(?:arrangement|situation)s?\b|"
            r"\bmarital\b|\bare\s+you\s+(?:currently\s+)?(?:married|single)\b|\brelationship\s+status\b|\bsingle\s+parent\b|"
            r"\bfamily\s+(?:situation|status|type|structure|make-?up|composition)\b",
            q,
        )
    )


def _ask_household(q: str) -> tuple[_Dims | None, _Dims | None]:
    if re.search(r"\bliv(?:e|ing)\s+(?:all\s+)?(?:alone|by\s+yourself|on\s+your\s+own)\b", q):
        return _Dims(True, False, False), _Dims(False, None, None)
    if re.search(r"\bsingle\s+parent\b", q):
        return _Dims(False, False, True), None
    if re.search(
        r"\bliv(?:e|ing)\s+with\s+(?:a|an|your)\s+(?:spouse|partner|husband|wife|significant\s+other)\b|"
        r"\b(?:spouse|partner|husband|wife|significant\s+other)\b.*\bliv(?:e|es|ing)\s+with\s+you\b",
        q,
    ):
        return _Dims(False, True, None), _Dims(None, False, None)
    if re.search(r"\bare\s+you\s+(?:currently\s+)?married\b", q):
        return _Dims(None, True, None), None  # unmarried partners live together: "No" says nothing
    if re.search(r"\bare\s+you\s+(?:currently\s+)?single\b", q):
        return _Dims(None, False, None), None
    if re.search(r"\bliv(?:e|ing)\s+with\s+(?:anyone|anybody|someone|others|other\s+people)\b", q):
        return _Dims(False, None, None), _Dims(True, False, False)
    if re.search(r"\bliv(?:e|ing)\s+with\s+(?:your\s+)?(?:parents?|family|relatives|roommates?)\b", q):
        return _Dims(False, None, None), None
    return None, None


_SINGLE_PARENT = re.compile(r"\b(?:single|lone|solo)\s+(?:parent|mom|mother|dad|father)\b")


def _read_household(option: str, q: _Question) -> _Dims | None:
    """Alone / partner / children as the option states them ("Couple with kids", "Just me")."""
    marital = bool(_MARITAL_Q.search(q.text))
    kids_no = re.search(r"\b(?:no|without|zero)\s+(?:\w+\s+)?" + _KIDS + r"\b|\bchild(?:less|-?free)\b", option)
    kids_yes = not kids_no and (re.search(r"\b" + _KIDS + r"\b", option) or _SINGLE_PARENT.search(option))
    not_together = re.search(
        r"\b(?:never|not|un)[- ]?married\b|\bex[- ]|\blate\s+|\bwidow|\bdivorc|\bseparated\b|\bapart\b", option
    )
    partner_no = bool(
        re.search(r"\b(?:no|without(?:\s+a)?)\s+(?:spouse|partner)\b|\bnot\s+living\s+with\s+a\s+partner\b", option)
    )
    if not marital and not partner_no:
        # "Single" on a household question means no partner at home; on a marital one, not married
        partner_no = bool(re.search(r"\bsingle\b|\bunmarried\b|\bnot\s+married\b", option)) or bool(
            re.search(r"\b(?:just|only)\s+me\s+and\b", option) and not re.search(r"\b" + _PARTNER + r"\b", option)
        )
    partner_yes = not partner_no and not not_together and re.search(r"\b" + _PARTNER + r"\b", option)
    others = re.search(_RELATIVES, option)
    companions = bool(kids_yes or partner_yes or others or re.search(r"\bme\s+and\b|\band\s+(?:my|our)\b", option))
    if not companions and re.search(
        r"\b(?:alone|by\s+myself|on\s+my\s+own|just\s+me|only\s+me|myself\s+only|one[- ]person|single[- ]person|solo)\b",
        option,
    ):
        return _Dims(True, False, False)
    dims = _Dims(
        False if companions else None,
        True if partner_yes else False if partner_no else None,
        True if kids_yes else False if kids_no else None,
    )
    if dims.kids and dims.partner is None and any(_SINGLE_PARENT.search(o) for o in q.options if o != option):
        # next to a "Single parent" option, "Family with children" is the two-parent household
        dims = dims._replace(partner=True)
    return dims if dims != _Dims(None, None, None) else None


def _household_dims(facts: Mapping[str, Any]) -> _Dims:
    household = facts.get("household")
    kids = facts.get("children")
    if household == _MULTI:
        return _Dims(False, None, kids)
    if household:
        partner = household in PARTNER_HOUSEHOLDS
        return _Dims(household == "Single", partner, household in KIDS_HOUSEHOLDS if kids is None else kids)
    return _Dims(False if kids else None, None, kids)


def _household_text(facts: Mapping[str, Any]) -> str:
    if facts.get("household"):
        return HOUSEHOLD_TEXT[facts["household"]]
    return "children live with you" if facts.get("children") else "no children live with you"


def _judge_household(said: _Dims, facts: Mapping[str, Any], q: str) -> str | None:
    have = _household_dims(facts)
    if any(a is not None and b is not None and a != b for a, b in zip(said, have, strict=True)):
        return _household_text(facts)
    return None


def _asks_size(q: str) -> bool:
    return bool(
        re.search(
            r"\bhow\s+many\s+(?:people|persons|members|individuals|residents)\b|\bhousehold\s+size\b|"
            r"\bsize\s+of\s+your\s+household\b|\bnumber\s+of\s+(?:people|persons|members|individuals)\b",
            q,
        )
    )


def _read_size(option: str, q: _Question) -> Interval | None:
    if re.search(r"\b(?:just|only)\s+(?:me|myself)\b|\bmyself\s+only\b|\balone\b", option) and not re.search(
        r"\band\b", option
    ):
        return 1, 1
    return _count_range(option)


# People a household holds at least ("Couple" may have a lodger; "Multi-generational" is two generations or more).
_SIZES: dict[str, Interval] = {
    "Single": (1, 1),
    "Couple": (2, INF),
    "Family with children": (3, INF),
    "Single parent": (2, INF),
    _MULTI: (2, INF),
}


def _judge_size(size: Interval, facts: Mapping[str, Any], q: str) -> str | None:
    household = facts.get("household")
    have = _SIZES.get(household or "") or ((2, INF) if facts.get("children") else None)
    if have is None:
        return None
    if re.search(r"\b(?:besides|other\s+than|excluding|not\s+counting|apart\s+from|in\s+addition\s+to)\s+you", q):
        have = (have[0] - 1, have[1] - 1)
    return None if _overlap(size, have) else _household_text(facts)


# --- education -----------------------------------------------------------------------------------

_LEVELS = frozenset(range(len(EDUCATION_LEVELS)))  # 0 high school or less ... 3 graduate degree
_EDUCATION_PATTERNS: tuple[tuple[str, _Span[int]], ...] = (
    (r"\bsome\s+(?:graduate|grad|post-?graduate)\b", _span({2, 3}, {2})),
    (
        r"\b(?:master'?s?|mba|ph\.?\s?d|doctor(?:ate|al)|professional\s+degree|j\.?d|m\.?d|post-?graduate|postgrad|"
        r"graduate\s+(?:degree|school|or\s+professional)|grad\s+school|advanced\s+degree|law\s+degree|medical\s+degree)\b",
        _span({3}),
    ),
    (
        r"\b(?:bachelor'?s?|b\.?a|b\.?s|4[- ]year|four[- ]year|undergraduate\s+degree|(?:college|university)\s+grad(?:uate)?|"
        r"university\s+degree)\b",
        _span({2}),
    ),
    (r"\b(?:associate'?s?|2[- ]year|two[- ]year|community\s+college|junior\s+college)\b", _span({1})),
    (
        r"\bsome\s+(?:college|university)\b|\bcollege,?\s+(?:but\s+)?no\s+degree\b|\b(?:attended|started)\s+college\b",
        _span({1}),
    ),
    (
        r"\b(?:vocational|trade|technical|tech)\s+(?:school|training|degree|certificate|program|college)\b",
        _span({0, 1}),
    ),
    (
        r"\bhigh\s+school\b|\bh\.?s\.?\s+diploma\b|\bged\b|\bsecondary\s+school\b|\b(?:8th|9th|10th|11th|12th)\s+grade\b",
        _span({0}),
    ),
)
# Read only when nothing more precise is named: an associate's degree is a college degree too.
_GENERIC_EDUCATION: tuple[tuple[str, _Span[int]], ...] = (
    (r"\bcollege\s+degree\b|\bdegree\b|\bgraduat(?:e|ed)\s+from\s+(?:college|university)\b", _span({1, 2, 3}, {2, 3})),
    (r"\bcollege\b|\buniversity\b", _span({1, 2, 3})),
)


def _education_levels(text: str) -> _Span[int] | None:
    text = (
        re.sub(r",?\s*(?:but\s+)?(?:no|without\s+a?)\s+degree\b", " ", text) if re.search(r"\bsome\b", text) else text
    )
    found = [span for pattern, span in _EDUCATION_PATTERNS if re.search(pattern, text)]
    if not found:
        found = [span for pattern, span in _GENERIC_EDUCATION if re.search(pattern, text)][:1]
    if not found:
        return None
    span = found[0]
    for more in found[1:]:
        span = span | more
    if re.match(r"(?:less\s+than|below|short\s+of|without|no)\b", text):
        below = frozenset(level for level in _LEVELS if level < min(span.sure or span.may)) or frozenset({0})
        return _Span(below, below)
    if re.search(r"\b(?:or|and)\s+(?:higher|more|above|up|beyond)\b|\bat\s+least\b|\+", text):
        up = frozenset(level for level in _LEVELS if level > max(span.may))
        span = _Span(span.may | up, span.sure | up)
    if re.search(r"\b(?:or|and)\s+(?:less|lower|below|under)\b|\bat\s+most\b", text):
        down = frozenset(level for level in _LEVELS if level < min(span.may))
        span = _Span(span.may | down, span.sure | down)
    return span


def _read_education(option: str, q: _Question) -> _Span[int] | None:
    return _education_levels(option)


def _ask_education(q: str) -> tuple[_Span[int] | None, _Span[int] | None]:
    """ "Do you have a bachelor's degree?" asks for that level or higher; "No" is every level below."""
    named = _education_levels(q)
    if named is None:
        return None, None
    if not re.search(r"\bhighest\b", q):
        # "high school" as a level is "or less"; as a question it is "finished high school"
        low_sure = max(1, min(named.sure)) if named.sure else len(_LEVELS)
        named = _Span(
            frozenset(level for level in _LEVELS if level >= min(named.may)),
            frozenset(level for level in _LEVELS if level >= low_sure),
        )
    return named, named.negate(_LEVELS)


def _judge_education(levels: _Span[int], facts: Mapping[str, Any], q: str) -> str | None:
    education = facts.get("education")
    if education not in EDUCATION_LEVELS or EDUCATION_LEVELS.index(education) in levels.may:
        return None
    return f"your education: {education.lower()}"


def _asks_education(q: str) -> bool:
    return bool(
        re.search(
            r"\b(?:education|educational|degree|degrees|diploma|schooling|school|college|university|ged|graduate|"
            r"graduated|qualifications?)\b",
            q,
        )
    )


# --- credit --------------------------------------------------------------------------------------

_TIERS = frozenset(CREDIT_TIER_NAMES)
# Tiers by score: the CFPB bands of `tiers_for_score`, as ranges.
_TIER_SCORES = {"deep-subprime": (300, 579), "subprime": (580, 619), "near-prime": (620, 659), "prime": (660, 719), "super-prime": (720, 850)}  # fmt: skip
# Self-ratings: the chat checker's adjectives, widened by the FICO scale survey options follow
# (FICO "fair" is 580-669, which reaches sub-prime); `sure` is what the word surely covers.
_GOOD = ADJECTIVE_TIERS["good"]
_CREDIT_WORDS: tuple[tuple[str, _Span[str]], ...] = (
    (r"very\s+good", _span(ADJECTIVE_TIERS["great"], {"super-prime"})),
    (r"very\s+poor|very\s+bad", _span(ADJECTIVE_TIERS["terrible"])),
    (r"above\s+average", _span(ADJECTIVE_TIERS["great"], {"super-prime"})),
    (r"below\s+average", _span(ADJECTIVE_TIERS["poor"] | {"near-prime"}, ADJECTIVE_TIERS["poor"])),
    (r"excellent|exceptional|outstanding|great", _span(ADJECTIVE_TIERS["excellent"], {"super-prime"})),
    (r"good|solid", _span(_GOOD, _GOOD - {"near-prime"})),
    (r"fair|average|okay|ok|decent", _span(ADJECTIVE_TIERS["fair"] | {"subprime"}, {"near-prime"})),
    (r"poor|bad|terrible|awful|damaged", _span(ADJECTIVE_TIERS["poor"])),
)


def _score_tiers(lo: int, hi: int) -> _Span[str]:
    may = frozenset(t for t, (a, b) in _TIER_SCORES.items() if a <= hi and lo <= b)
    sure = frozenset(t for t, (a, b) in _TIER_SCORES.items() if lo <= a and b <= hi)
    return _Span(may | tiers_for_score(lo) | tiers_for_score(hi), sure)


def _credit_scores(text: str) -> _Span[str] | None:
    def ok(*scores: str) -> bool:
        return all(300 <= int(s) <= 850 for s in scores)

    if (m := re.search(r"\b(\d{3})\s*(?:-|to|through)\s*(\d{3})\b", text)) and ok(m[1], m[2]):
        return _score_tiers(int(m[1]), int(m[2]))
    if (m := re.search(r"\b(?:below|under|less\s+than|lower\s+than)\s+(\d{3})\b", text)) and ok(m[1]):
        return _score_tiers(300, int(m[1]) - 1)
    if (
        m := re.search(r"\b(\d{3})\s*(?:\+|or\s+(?:above|higher|more|over)|and\s+(?:above|up|over|higher))", text)
    ) and ok(m[1]):
        return _score_tiers(int(m[1]), 850)
    if (m := re.search(r"\b(?:above|over|more\s+than|higher\s+than|at\s+least)\s+(\d{3})\b", text)) and ok(m[1]):
        return _score_tiers(int(m[1]) + (0 if "least" in m[0] else 1), 850)
    return None


def _credit_tiers(text: str, options: Sequence[str] = ()) -> _Span[str] | None:
    found: list[_Span[str]] = []
    for m in re.finditer(r"\b(deep[\s-]?sub[\s-]?prime|super[\s-]?prime|near[\s-]?prime|sub[\s-]?prime|prime)\b", text):
        tier = normalise_tier(re.sub(r"\s+", "-", m[1]))
        if tier in ("subprime", "deep-subprime"):
            found.append(_span({"subprime", "deep-subprime"}, {tier}))  # the records' "Sub Prime" is all below 620
        elif tier == "prime" and not any(re.search(r"super[\s-]?prime", o) for o in options):
            found.append(_span({"prime", "super-prime"}, {"prime"}))  # super-prime is prime too, unless offered apart
        elif tier in _TIERS:
            found.append(_span({tier}))
    if (scores := _credit_scores(text)) is not None:
        found.append(scores)
    # A tier name or a score says more than a self-rating: "Good (prime)" is the prime tier,
    # labelled good, not every tier "good" can mean.
    rest = "" if found else text
    for pattern, span in _CREDIT_WORDS:
        if re.search(r"\b(?:" + pattern + r")\b", rest):
            found.append(span)
            rest = re.sub(r"\b(?:" + pattern + r")\b", " ", rest)
    if not found:
        return None
    span = found[0]
    for more in found[1:]:
        span = span | more
    return span


def _read_credit(option: str, q: _Question) -> _Span[str] | None:
    if re.search(r"\b(?:no\s+credit|limited|building|thin|none)\b", option):
        return None
    return _credit_tiers(option, q.options)


def _ask_credit(q: str) -> tuple[_Span[str] | None, _Span[str] | None]:
    named = _credit_tiers(q)
    return (named, named.negate(_TIERS)) if named else (None, None)


def _judge_credit(tiers: _Span[str], facts: Mapping[str, Any], q: str) -> str | None:
    tier = facts.get("credit_tier")
    if tier not in _TIERS:
        return None
    have = {tier, "deep-subprime"} if tier == "subprime" else {tier}
    return None if have & tiers.may else f"your credit is {tier}"


def _asks_credit(q: str) -> bool:
    return bool(
        re.search(
            r"\bcredit\s+(?:score|rating|history|standing|tier|worthiness|profile|health|record|report|grade|level|quality)\b|"
            r"\bcreditworth|\bfico\b|\byour\s+credit\b(?!\s+(?:cards?|card\s+debt|limits?|lines?|unions?|utili[sz]ation|balances?))|"
            r"\b(?:good|bad|poor|excellent|fair)\s+credit\b",
            q,
        )
    )


# --- place of residence --------------------------------------------------------------------------

_ABROAD = "abroad"
_PLACES = frozenset(US_STATES | {_ABROAD})
_REGION_STATES = {r: frozenset(s for s, rr in STATE_REGION.items() if rr == r) for r in set(STATE_REGION.values())}
_REGION_WORDS = {
    "northeast": "northeast", "north east": "northeast", "north-east": "northeast", "northeastern": "northeast",
    "midwest": "midwest", "mid-west": "midwest", "midwestern": "midwest", "south": "south", "southern": "south",
    "west": "west", "western": "west",
}  # fmt: skip
# Parts of the country by the Census regions they may reach: "the East Coast" runs into the South,
# "the Southwest" reaches Texas and Oklahoma. None of them surely covers a whole region.
_AREAS: dict[str, frozenset[str]] = {
    **{name.removeprefix("the "): frozenset({region}) for name, region in REGION_NAMES.items()},
    "east coast": frozenset({"northeast", "south"}),
    "southwest": frozenset({"west", "south"}),
    "mid-atlantic": frozenset({"northeast", "south"}),
    "great lakes": frozenset({"midwest", "northeast"}),
    "rust belt": frozenset({"midwest", "northeast"}),
    "sun belt": frozenset({"south", "west"}),
    "great plains": frozenset({"midwest", "west", "south"}),
    "gulf coast": frozenset({"south"}),
    "mountain west": frozenset({"west"}),
    "rocky mountains": frozenset({"west"}),
    "upper midwest": frozenset({"midwest"}),
}
_AREAS = {k: v for k, v in _AREAS.items() if k not in _REGION_WORDS}
_PLACE_NAMES = sorted(
    set(US_STATES) | set(_REGION_WORDS) | set(_AREAS) | set(CITIES) | set(COUNTRIES) | {"united states", "us", "u.s."},
    key=len,
    reverse=True,
)
_PLACE_RE = re.compile(r"(?<![\w.])(" + "|".join(re.escape(n) for n in _PLACE_NAMES) + r")(?![\w])")


def _place_span(name: str) -> _Span[str]:
    if name in _REGION_WORDS:
        return _span(_REGION_STATES[_REGION_WORDS[name]])
    if name in _AREAS:
        return _span(frozenset().union(*(_REGION_STATES[r] for r in _AREAS[name])), ())
    if name in US_STATES:
        return _span({name})
    if name in CITIES:
        home = CITIES[name]
        return _span({home}) if home in US_STATES else _span({_ABROAD})
    if name in US_NAMES or name in ("united states", "us", "u.s."):
        return _span(US_STATES)
    return _span({_ABROAD})  # another country


def _place_reading(text: str, raw: str = "") -> _Span[str] | None:
    """The states (or "abroad") a place name covers: "Texas", "the South", "TX", "Outside the US"."""
    text = re.sub(r"\([^)]*\)", " ", text)  # "South (TX, FL, GA...)": the examples repeat the name
    if re.search(
        r"\b(?:outside\s+(?:of\s+)?(?:the\s+)?(?:us|u\.s\.?|usa|united\s+states|america|country)|abroad|overseas|"
        r"another\s+country|other\s+country|international|foreign|non-us)\b",
        text,
    ):
        return _span({_ABROAD})
    if re.search(r"\b(?:outside|not|except|other|elsewhere|another|excluding|neither|none|d\.?c\.?|district)\b", text):
        return None
    if raw.strip().upper() in STATE_CODES and raw.strip().isupper():
        return _span({STATE_CODES[raw.strip().upper()]})
    names = _PLACE_RE.findall(text)
    specific = [n for n in names if _place_span(n).may != US_STATES]
    names = specific or names  # "Northeast US" is the Northeast
    if not names:
        return None
    span = _place_span(names[0])
    for name in names[1:]:
        span = span | _place_span(name)
    return span


def _read_place(option: str, q: _Question) -> _Span[str] | None:
    return _place_reading(option, q.raw.get(option, ""))


def _ask_place(q: str) -> tuple[_Span[str] | None, _Span[str] | None]:
    m = re.search(r"\b(?:live|living|reside|residing|located|based|resident)\s+(?:in|of)\s+(.+)$", q)
    named = _place_reading(m[1]) if m else None
    return (named, named.negate(_PLACES)) if named else (None, None)


def _home_place(facts: Mapping[str, Any]) -> tuple[frozenset[str], str] | None:
    """The states the persona may live in, and how to say where."""
    state = str(facts.get("state", "")).lower()
    if state not in US_STATES:
        parts = [p.strip().lower() for p in str(facts.get("location", "")).split(",")]
        found = [CITIES.get(p, p) for p in parts if CITIES.get(p, p) in US_STATES]
        found += [STATE_CODES[p.upper()] for p in parts if p.upper() in STATE_CODES]
        state = found[0] if found else ""
    region = str(facts.get("region", "")).lower() or STATE_REGION.get(state, "")
    where = f", in the {region.title()}" if region in _REGION_STATES else ""
    if state:
        return frozenset({state}), f"you live in {facts.get('location') or state.title()}{where}"
    if region in _REGION_STATES:
        return _REGION_STATES[region], f"you live in the {region.title()}"
    country = str(facts.get("country", ""))
    if country.lower() in US_NAMES | {"united states", "us", "u.s."}:
        return frozenset(US_STATES), f"you live in the {country}" if len(country) <= 3 else f"you live in {country}"
    if country:
        return frozenset({_ABROAD}), f"you live in {country}"
    return None


def _judge_place(places: _Span[str], facts: Mapping[str, Any], q: str) -> str | None:
    home = _home_place(facts)
    if home is None or home[0] & places.may:
        return None
    return home[1]


def _asks_place(q: str) -> bool:
    return bool(
        re.search(
            r"\b(?:census\s+)?region\b|\bpart\s+of\s+the\s+(?:country|us|u\.s\.|united\s+states|nation)\b|"
            r"\b(?:which|what)\s+(?:us\s+|u\.s\.\s+)?(?:state|country)\b|\bstate\s+(?:of\s+residence|do\s+you|are\s+you|you\s+live)\b|"
            r"\bwhere\s+do\s+you\s+(?:currently\s+)?(?:live|reside)\b|\bwhere\s+(?:is\s+your\s+home|are\s+you\s+(?:located|based))\b|"
            r"\b(?:live|reside|located|based|living|resident)\s+(?:in|of)\s+(?!a\b|an\b)",
            q,
        )
    )


# --- household income ----------------------------------------------------------------------------


def _money_range(text: str, q: str) -> Interval | None:
    """Yearly dollars an option names: "Under $50,000", "$50k-$100k", "Over $200,000", "Less than 25k"."""
    if re.search(r"%|\bpercent\b|\bhour\b|\bhourly\b|/\s*hr\b", text):
        return None
    scale = 12.0 if re.search(r"\b(?:month|monthly|mo)\b", text + " " + q) else 1.0
    scale = 52.0 if re.search(r"\b(?:week|weekly)\b", text + " " + q) else scale
    found = [
        (m[2], m[3] or "", bool(m[1]))
        for m in re.finditer(
            r"(\$?)\s*(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)\s*(k|thousand|grand|m|mil|million|mm)?\b", text
        )
    ]
    if not found or len(found) > 2:
        return None
    units = [unit for _, unit, _ in found]
    if len(found) == 2 and not units[0] and units[1]:
        units[0] = units[1]  # "$50-100k"
    values: list[float] = []
    for (amount, _, dollar), unit in zip(found, units, strict=True):
        value = (
            money_value(amount, None) * 1e6
            if unit in ("m", "mil", "million", "mm")
            else money_value(amount, unit or None)
        )
        if not (dollar or unit or value >= 1000):
            return None  # a bare small number is no amount of money
        values.append(value * scale)
    if len(values) == 2:
        return min(values), max(values)
    x = values[0]
    if re.search(
        r"\+|\bor\s+(?:more|over|above|higher|greater)\b|\band\s+(?:over|above|up|higher|more)\b|\bat\s+least\b|\bplus\b",
        text,
    ):
        return x, INF
    if re.search(r"\b(?:over|more\s+than|above|greater\s+than|higher\s+than|exceeding|in\s+excess\s+of)\b", text):
        return x + 1, INF
    if re.search(r"\b(?:up\s+to|no\s+more\s+than|at\s+most)\b|\bor\s+(?:less|under|below|lower)\b", text):
        return 0, x
    if re.search(r"\b(?:under|less\s+than|below|lower\s+than|fewer\s+than)\b", text):
        return 0, x - 1
    return None  # a bare figure: around it, or exactly it?


def _read_income(option: str, q: _Question) -> Interval | None:
    return _money_range(option, q.text)


def _ask_income(q: str) -> tuple[Interval | None, Interval | None]:
    m = re.search(
        r"\b(?:over|more\s+than|above|greater\s+than|higher\s+than|at\s+least|under|less\s+than|below|lower\s+than)\b.*$",
        q,
    )
    named = _money_range(m[0], q) if m else None
    return named, _negate_interval(named, 0, INF)


def _judge_income(money: Interval, facts: Mapping[str, Any], q: str) -> str | None:
    band = facts.get("income_band")
    if not band:
        return None
    try:
        lo, hi = band_limits(str(band))
    except ValueError:
        return None
    household = re.search(r"\b(?:household|family|combined|total\s+household)\b", q)
    if not household and facts.get("household") != "Single":
        lo = 0  # your own pay may be part of the household's
    if _overlap(money, (lo, hi)) and not _boundary_touch(money, (lo, hi)):
        return None
    return f"your household income is {band} a year"


def _boundary_touch(option: Interval, have: Interval) -> bool:
    """Whether `option` meets the persona's range `have` only at its edge: under 1% of `have`
    (its "$25,001 - $50,000" and an option "$50,000 to $100,000" share one dollar: a household
    of that band says "Under $50,000", as the table's own groups count it)."""
    shared = min(option[1], have[1]) - max(option[0], have[0]) + 1
    return shared * 100 < have[1] - have[0] + 1


def _asks_income(q: str) -> bool:
    if re.search(
        r"\b(?:percent(?:age)?|share|portion|proportion|fraction|how\s+much\s+of|retirement|rental|investment|fixed|"
        r"disposable|tax|taxes|sources?\s+of)\b",
        re.sub(r"\b(?:before|after|pre-?)\s*tax(?:es)?\b", " ", q),
    ):
        return False
    return bool(
        re.search(
            r"\bincome\b|\bsalary\b|\bearnings\b|\bwages?\b|\bhow\s+much\s+(?:money\s+)?do\s+you\s+(?:make|earn)\b|"
            r"\b(?:earn|make)\s+(?:more|less)\s+than\b",
            q,
        )
    )


# --- age -----------------------------------------------------------------------------------------


def _age_range(text: str) -> Interval | None:
    """Ages an option names: "18-24", "65 or older", "Under 25", "In my 30s", "early forties"."""
    if m := re.search(
        r"\b(early|mid|late)?[\s-]*(teens|twenties|thirties|forties|fifties|sixties|seventies|eighties|nineties|[1-9]0'?s)\b",
        text,
    ):
        lo, hi = decade_span(m[2].replace("'", ""), m[1])
        if re.search(r"\+|\b(?:or|and)\s+(?:older|over|above|up)\b", text):
            return float(lo), 120
        if re.search(r"\b(?:or|and)\s+(?:younger|under|below)\b", text):
            return 0, float(hi)
        return float(lo), float(hi)
    ages = [int(a) for a in re.findall(r"\b(\d{1,3})\b", text)]
    if not ages or any(a > 120 for a in ages):
        return None
    if len(ages) >= 2:
        return float(min(ages[:2])), float(max(ages[:2]))
    x = float(ages[0])
    if re.search(r"\+|\b(?:or|and)\s+(?:older|over|above|up|more)\b|\bat\s+least\b", text):
        return x, 120
    if re.search(r"\b(?:over|older\s+than|above|more\s+than)\b", text):
        return x + 1, 120
    if re.search(r"\b(?:or|and)\s+(?:younger|under|below|less)\b", text):
        return 0, x
    if re.search(r"\b(?:under|younger\s+than|less\s+than|below)\b", text):
        return 0, x - 1
    return x, x


def _read_age(option: str, q: _Question) -> Interval | None:
    return _age_range(option)


def _ask_age(q: str) -> tuple[Interval | None, Interval | None]:
    m = re.search(r"\bare\s+you\s+(.+)$", q)
    named = _age_range(m[1]) if m else None
    return named, _negate_interval(named, 0, 120)


def _judge_age(ages: Interval, facts: Mapping[str, Any], q: str) -> str | None:
    if "age" in facts:
        have, said = (float(facts["age"]), float(facts["age"])), f"you are {facts['age']} years old"
    elif facts.get("age_band"):
        try:
            lo, hi = parse_age_band(str(facts["age_band"]))
        except ValueError:
            return None
        have, said = (float(lo), float(hi)), f"your age is in the {facts['age_band']} band"
    else:
        return None
    return None if _overlap(ages, have) else said


def _asks_age(q: str) -> bool:
    return bool(
        re.search(
            r"\byour\s+(?:current\s+)?age\b|^age\b|\bhow\s+old\s+are\s+you\b|\bage\s+(?:group|range|bracket|band|category)\b|"
            r"\bwhat\s+age\s+are\s+you\b|\bwhich\s+age\b|\bare\s+you\s+(?:over|under|older|younger|at\s+least|between|aged|\d)",
            q,
        )
    )


# --- gender --------------------------------------------------------------------------------------

_GENDERS = frozenset({"female", "male", "other"})


def _gender_reading(text: str) -> _Span[str] | None:
    if re.search(r"\b(?:trans\w*|non-?binary|genderqueer|gender\s*fluid|agender|intersex|two[- ]spirit)\b", text):
        return None
    female = re.search(r"\b(?:female|woman|women|girl|lady|feminine)\b", text)
    male = re.search(r"\b(?:male|man|men|boy|guy|masculine)\b", text)
    if bool(female) == bool(male):
        return None
    return _span({"female"} if female else {"male"})


def _read_gender(option: str, q: _Question) -> _Span[str] | None:
    return _gender_reading(option)


def _ask_gender(q: str) -> tuple[_Span[str] | None, _Span[str] | None]:
    named = _gender_reading(q)
    return (named, named.negate(_GENDERS)) if named else (None, None)


def _judge_gender(genders: _Span[str], facts: Mapping[str, Any], q: str) -> str | None:
    gender = {"f": "female", "woman": "female", "m": "male", "man": "male"}.get(
        str(facts.get("gender", "")), str(facts.get("gender", ""))
    )
    if gender not in ("female", "male") or gender in genders.may:
        return None
    return "you are a woman" if gender == "female" else "you are a man"


def _asks_gender(q: str) -> bool:
    return bool(
        re.search(
            r"\bgender\b|\bsex\b|\b(?:male|female)\s+or\s+(?:female|male)\b|\b(?:a\s+)?(?:man|woman)\s+or\s+(?:a\s+)?(?:woman|man)\b|"
            r"\bare\s+you\s+(?:a\s+)?(?:male|female|man|woman)\b",
            q,
        )
    )


# --- political giving ----------------------------------------------------------------------------

_POLITICAL = (
    r"(?:political|politics|politicians?|campaigns?|candidates?|(?:political\s+)?part(?:y|ies)|pacs?|"
    r"political\s+action\s+committees?)"
)
_GIVE = (
    r"(?:give|gives|gave|given|giving|donate|donates|donated|donating|contribute|contributes|contributed|contributing)"
)
_GIVING_Q = re.compile(
    r"\b" + _GIVE + r"\b[^?.]{0,40}?\b" + _POLITICAL + r"|"
    r"\bpolitical(?:ly)?\s+(?:donors?|donations?|contributions?|contributors?|giving|gifts?)\b|"
    r"\b(?:campaign|party)\s+(?:donors?|donations?|contributions?)\b"
)


def _asks_giving(q: str) -> bool:
    return bool(_GIVING_Q.search(q))


def _ask_giving(q: str) -> tuple[bool | None, bool | None]:
    # an amount ("more than $100") or a negated question leaves Yes and No open to both
    if re.search(r"\$|\d|\b(?:more|less|over|under|at\s+least|not|never|avoid|refuse)\b", q):
        return None, None
    return True, False


def _read_giving(option: str, q: _Question) -> bool | None:
    """True: gives to political causes; False: gives nothing. Amounts above zero are not read."""
    if re.search(r"^(?:none|nothing|zero|\$?0(?:\.00)?)\b|\b(?:never|not\s+a\s+(?:penny|cent|dime))\b", option):
        return False
    if re.search(r"\b(?:don't|do\s+not|didn't|did\s+not|haven't|have\s+not|no)\b", option):
        return False if re.search(r"\b" + _GIVE + r"|\b(?:donations?|contributions?|money)\b", option) else None
    if re.search(r"\b" + _GIVE + r"\b|\b(?:donor|donations?|contributions?)\b", option):
        return True
    return None


_judge_giving = _yes_no_judge(
    "political_donor", "you give money to political causes", "you do not give money to political causes"
)


_TOPICS: tuple[_Topic, ...] = (
    _Topic("size", _asks_size, lambda q: (None, None), _read_size, _judge_size),
    _Topic("children", _asks_children, _ask_children, _read_children, _judge_children),
    _Topic("household", _asks_household, _ask_household, _read_household, _judge_household),
    _Topic("home", _asks_home, _ask_home, _read_home, _judge_home),
    _Topic("auto", lambda q: bool(_AUTO_Q.search(q)), _ask_auto, _read_auto, _judge_auto),
    _Topic("income", _asks_income, _ask_income, _read_income, _judge_income),
    _Topic("education", _asks_education, _ask_education, _read_education, _judge_education),
    _Topic("credit", _asks_credit, _ask_credit, _read_credit, _judge_credit),
    _Topic("place", _asks_place, _ask_place, _read_place, _judge_place),
    _Topic("age", _asks_age, _ask_age, _read_age, _judge_age),
    _Topic("gender", _asks_gender, _ask_gender, _read_gender, _judge_gender),
    _Topic("giving", _asks_giving, _ask_giving, _read_giving, _judge_giving),
)
