"""The persona's facts and the checker that holds a reply to them.

Rule-based and deterministic, the same code in the chat's guard and in the evals (which import
it), so what the product enforces and what the evals score cannot drift apart.

Only first-person statements count ("I'm 52", "I live in Ohio", "my husband", "I rent"): a
reply about someone else's age or home is no contradiction, and a reply that states nothing
about a fact is consistent with it. Facts (`normalise_facts`, all optional):

- `age` (exact) or `age_band` ("25 - 34", "65+"): stated ages ("I'm 29", "a 26-year-old",
  "I turned 40") and decades ("in my late forties") must fit;
- `gender`: self-descriptions with gendered words ("I'm a mom", "as a guy");
- `location` ("Austin, Texas") or `state` / `region` / `country`: a known place after "I live
  in", "I'm from", "here in", "I'm ... in" must be the persona's city, state, region or country;
  places outside the small gazetteer are not judged;
- `household` (Single, Couple, Family with children, Single parent, Multi-generational) and
  `children` (children at home, yes or no): a spouse or partner, children, living alone or
  with others, as the household allows (a persona of 40 or more may speak of grown children);
- `education` (High school or less, Some college, Bachelor's degree, Graduate degree);
- `income_band` ("$25,001 - $50,000"): a stated yearly or monthly income must fall in the band
  (a quarter's margin either side);
- `net_worth_decile` (1-10): "I'm a millionaire" needs the top deciles;
- `credit_tier` (Sub Prime ... Super Prime): tier words, credit adjectives and scores (CFPB bands);
- `homeowner` (yes/no): owning, a mortgage vs renting, a landlord, a lease;
- `auto_loans` (count of open auto loans): a car loan or payment vs none, no car;
- `political_donor` (from `political_giving`, dollars a year, or yes/no): held by the survey's
  fact check and named in rewrite notes; chat replies are not judged on it;
- `occupation` ("dental hygienist"): "I'm a nurse", "I work as an accountant" naming another
  job from a list of common ones;
- `answers` (a table twin's record answers, any columns): a claim of another answer of the same
  column ("I'm a Republican", "I voted for Obama"); see `answer_claims`.

`breaks_character` finds assistant talk of any wording: "as an AI", "I'm a digital assistant",
"I help people with budgeting", "how can I assist you", "I don't have personal experiences".
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from domain.consumer import EDUCATION_LEVELS, HOUSEHOLDS, KIDS_HOUSEHOLDS, PARTNER_HOUSEHOLDS
from graphs.age_words import decade_span
from graphs.persona_chat.answer_claims import answer_contradictions, answer_statements

GROWN_CHILDREN_AGE = 40  # from this age a persona without children at home may have grown ones

_SELF = r"(?:i\s*am|i'm|i’m|im)"
FEMALE_WORDS = frozenset(
    "woman girl lady mom mother mum wife grandmother grandma daughter sister female gal aunt widow "
    "businesswoman housewife".split()
)
MALE_WORDS = frozenset(
    "man guy boy gentleman dad father husband grandfather grandpa son brother male dude uncle widower "
    "businessman".split()
)
STATE_CODES = {
    "AL": "alabama", "AK": "alaska", "AZ": "arizona", "AR": "arkansas", "CA": "california", "CO": "colorado",
    "CT": "connecticut", "DE": "delaware", "FL": "florida", "GA": "georgia", "HI": "hawaii", "ID": "idaho",
    "IL": "illinois", "IN": "indiana", "IA": "iowa", "KS": "kansas", "KY": "kentucky", "LA": "louisiana",
    "ME": "maine", "MD": "maryland", "MA": "massachusetts", "MI": "michigan", "MN": "minnesota",
    "MS": "mississippi", "MO": "missouri", "MT": "montana", "NE": "nebraska", "NV": "nevada",
    "NH": "new hampshire", "NJ": "new jersey", "NM": "new mexico", "NY": "new york", "NC": "north carolina",
    "ND": "north dakota", "OH": "ohio", "OK": "oklahoma", "OR": "oregon", "PA": "pennsylvania",
    "RI": "rhode island", "SC": "south carolina", "SD": "south dakota", "TN": "tennessee", "TX": "texas",
    "UT": "utah", "VT": "vermont", "VA": "virginia", "WA": "washington", "WV": "west virginia",
    "WI": "wisconsin", "WY": "wyoming",
}  # fmt: skip
US_STATES = frozenset(STATE_CODES.values())
# US Census regions
STATE_REGION = {
    **dict.fromkeys(
        "connecticut maine massachusetts vermont rhode_island new_hampshire new_jersey new_york pennsylvania".split(),
        "northeast",
    ),
    **dict.fromkeys(
        "illinois indiana michigan ohio wisconsin iowa kansas minnesota missouri nebraska north_dakota "
        "south_dakota".split(),
        "midwest",
    ),
    **dict.fromkeys(
        "delaware florida georgia maryland north_carolina south_carolina virginia west_virginia alabama "
        "kentucky mississippi tennessee arkansas louisiana oklahoma texas".split(),
        "south",
    ),
    **dict.fromkeys(
        "arizona colorado idaho montana nevada new_mexico utah wyoming alaska california hawaii oregon "
        "washington".split(),
        "west",
    ),
}
STATE_REGION = {k.replace("_", " "): v for k, v in STATE_REGION.items()}
REGION_NAMES = {
    "the northeast": "northeast",
    "new england": "northeast",
    "the east coast": "northeast",
    "the midwest": "midwest",
    "the south": "south",
    "the deep south": "south",
    "the southeast": "south",
    "the west": "west",
    "the west coast": "west",
    "the pacific northwest": "west",
    "the southwest": "west",
}
CITIES = {  # city -> state or country
    "austin": "texas", "houston": "texas", "dallas": "texas", "san antonio": "texas", "el paso": "texas",
    "los angeles": "california", "san francisco": "california", "san diego": "california",
    "sacramento": "california", "san jose": "california", "oakland": "california", "seattle": "washington",
    "spokane": "washington", "portland": "oregon", "denver": "colorado", "phoenix": "arizona",
    "tucson": "arizona", "chicago": "illinois", "detroit": "michigan", "miami": "florida",
    "orlando": "florida", "tampa": "florida", "jacksonville": "florida", "atlanta": "georgia",
    "boston": "massachusetts", "new york city": "new york", "nyc": "new york", "brooklyn": "new york",
    "manhattan": "new york", "queens": "new york", "the bronx": "new york", "buffalo": "new york",
    "philadelphia": "pennsylvania", "pittsburgh": "pennsylvania", "cleveland": "ohio", "columbus": "ohio",
    "cincinnati": "ohio", "nashville": "tennessee", "memphis": "tennessee", "minneapolis": "minnesota",
    "milwaukee": "wisconsin", "madison": "wisconsin", "las vegas": "nevada", "reno": "nevada",
    "salt lake city": "utah", "kansas city": "missouri", "st. louis": "missouri", "st louis": "missouri",
    "charlotte": "north carolina", "raleigh": "north carolina", "baltimore": "maryland",
    "new orleans": "louisiana", "baton rouge": "louisiana", "boise": "idaho", "albuquerque": "new mexico",
    "omaha": "nebraska", "des moines": "iowa", "anchorage": "alaska", "honolulu": "hawaii",
    "birmingham": "alabama", "indianapolis": "indiana", "richmond": "virginia", "newark": "new jersey",
    "hartford": "connecticut", "london": "united kingdom", "paris": "france", "berlin": "germany",
    "toronto": "canada", "vancouver": "canada", "sydney": "australia", "tokyo": "japan",
    "mexico city": "mexico", "dublin": "ireland", "madrid": "spain", "rome": "italy",
}  # fmt: skip
COUNTRIES = frozenset(
    {
        "united states",
        "usa",
        "the usa",
        "the us",
        "the u.s.",
        "america",
        "the united states",
        "canada",
        "mexico",
        "united kingdom",
        "the uk",
        "uk",
        "england",
        "france",
        "germany",
        "australia",
        "japan",
        "ireland",
        "spain",
        "italy",
        "india",
        "brazil",
        "china",
    }
)
US_NAMES = {"united states", "usa", "the usa", "the us", "the u.s.", "america", "the united states"}
OCCUPATIONS = frozenset(
    """accountant actor actress architect artist attorney baker banker barber barista bartender bookkeeper
    carpenter cashier chef cleaner clerk coach consultant contractor cook counselor dentist designer
    developer doctor driver economist editor electrician engineer farmer firefighter hairdresser
    hairstylist hygienist janitor journalist judge landscaper lawyer librarian machinist manager mechanic
    musician nanny nurse paralegal paramedic pharmacist photographer physician pilot plumber professor
    programmer psychologist realtor receptionist researcher salesman saleswoman scientist secretary
    server soldier surgeon tailor teacher technician therapist trucker tutor veterinarian waiter waitress
    welder writer student retiree freelancer entrepreneur""".split()
)
_OCCUPATION_ALIASES = {"attorney": "lawyer", "physician": "doctor", "realtor": "agent", "trucker": "driver"}


# --- the persona's facts -----------------------------------------------------------------------


def _yes(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value > 0
    text = str(value).strip().lower()
    if text in {"yes", "true", "y", "1", "own", "owner", "homeowner", "owns"}:
        return True
    if text in {"no", "false", "n", "0", "rent", "renter", "rents", "none"}:
        return False
    return None


def _donor(value: Any) -> bool | None:
    """Whether a record's political giving (dollars a year, or yes/no) makes the persona a donor."""
    if value is None:
        return None
    flag = _yes(value)
    if flag is not None:
        return flag
    try:
        return money_value(str(value).strip().lstrip("$"), None) > 0  # "$1,200"
    except ValueError:
        return None


def _person_facts(src: Mapping[str, Any]) -> dict[str, Any]:
    """Age, age band, gender and where the persona lives."""
    facts: dict[str, Any] = {}
    if isinstance(src.get("age"), (int, float)) or str(src.get("age", "")).isdigit():
        facts["age"] = int(src["age"])
    if src.get("age_band"):
        facts["age_band"] = str(src["age_band"])
    if src.get("gender"):
        facts["gender"] = str(src["gender"]).strip().lower()
    if src.get("state"):
        facts["state"] = STATE_CODES.get(str(src["state"]).upper(), str(src["state"]).lower())
    if src.get("location"):
        facts["location"] = str(src["location"])
    if src.get("region"):
        facts["region"] = str(src["region"]).lower()
    if src.get("country"):
        facts["country"] = str(src["country"])
    return facts


def _named(value: Any, names: Sequence[str]) -> str | None:
    """The one of `names` that `value` spells, case and spaces aside."""
    return next((n for n in names if value and n.lower() == str(value).strip().lower()), None)


def _household_facts(src: Mapping[str, Any]) -> dict[str, Any]:
    """Household, children (stated, or implied by the household) and education."""
    facts: dict[str, Any] = {}
    household = _named(src.get("household"), HOUSEHOLDS)
    if household:
        facts["household"] = household
    children = src.get("children", src.get("children_at_home"))
    if children is not None and _yes(children) is not None:
        facts["children"] = _yes(children)
    elif household in KIDS_HOUSEHOLDS:
        facts["children"] = True
    elif household in {"Single", "Couple"}:
        facts["children"] = False
    education = _named(src.get("education"), EDUCATION_LEVELS)
    if education:
        facts["education"] = education
    return facts


def _money_facts(src: Mapping[str, Any]) -> dict[str, Any]:
    """Income, net worth, credit, home ownership, auto loans and political giving."""
    facts: dict[str, Any] = {}
    if src.get("income_band"):
        facts["income_band"] = str(src["income_band"])
    if str(src.get("net_worth_decile", "")).isdigit():
        facts["net_worth_decile"] = int(src["net_worth_decile"])
    if src.get("credit_tier"):
        facts["credit_tier"] = normalise_tier(str(src["credit_tier"]))
    home = src.get("homeowner", src.get("home"))
    if home is not None and _yes(home) is not None:
        facts["homeowner"] = _yes(home)
    loans = src.get("open_auto_loans", src.get("auto_loans"))
    if isinstance(loans, (int, float)) or str(loans).isdigit():
        facts["auto_loans"] = int(loans)
    elif loans is not None and _yes(loans) is not None:
        facts["auto_loans"] = 1 if _yes(loans) else 0
    donor = _donor(src.get("political_donor", src.get("political_giving")))
    if donor is not None:
        facts["political_donor"] = donor
    return facts


def normalise_facts(raw: Mapping[str, Any] | None) -> dict[str, Any]:
    """Facts in the checker's keys from a twin's record attributes, a studio persona's declared
    `facts` or a data set row (unknown keys and empty values are dropped)."""
    if not raw:
        return {}
    src = {str(k).lower(): v for k, v in raw.items() if v not in (None, "", [])}
    facts = {**_person_facts(src), **_household_facts(src), **_money_facts(src)}
    job = src.get("occupation", src.get("job"))
    if job:
        facts["occupation"] = str(job).lower()
    if isinstance(src.get("answers"), Mapping):  # a table twin's record answers (`answer_claims`)
        facts["answers"] = dict(src["answers"])
    return facts


def persona_facts(attributes: Mapping[str, Any] | None) -> dict[str, Any]:
    """The facts a stored or inline persona carries: a studio persona's declared `facts` (or its
    imported card's), else a twin's own record attributes."""
    attributes = attributes or {}
    declared = attributes.get("facts")
    if not isinstance(declared, Mapping):
        extension = attributes.get("card_extension")
        declared = extension.get("facts") if isinstance(extension, Mapping) else None
    if isinstance(declared, Mapping):
        return normalise_facts(declared)
    if "age" in attributes and "gender" in attributes:  # a twin: its record is its facts
        return normalise_facts(attributes)
    return {}


HOUSEHOLD_TEXT = {
    "Single": "you live alone: no spouse or partner and no children live with you",
    "Couple": "you live with your spouse or partner and no children live with you",
    "Family with children": "you live with your spouse or partner and your children",
    "Single parent": "you are a single parent: your children live with you and you have no spouse or partner",
    "Multi-generational": "you live in a multi-generational household with relatives of other generations",
}


def fact_statements(facts: Mapping[str, Any]) -> list[str]:
    """The facts as short second-person sentences, for a rewrite note."""
    out: list[str] = []
    if "age" in facts:
        out.append(f"you are {facts['age']} years old")
    elif facts.get("age_band"):
        out.append(f"your age is in the {facts['age_band']} band")
    if facts.get("gender") in ("female", "male"):
        out.append(f"you are a {'woman' if facts['gender'] == 'female' else 'man'}")
    place = facts.get("location") or (facts.get("state") or "").title()
    if place:
        out.append(f"you live in {place}")
    if facts.get("household"):
        out.append(HOUSEHOLD_TEXT[facts["household"]])
    elif "children" in facts:
        out.append("children live with you" if facts["children"] else "no children live with you")
    if facts.get("education"):
        out.append(f"your education: {facts['education'].lower()}")
    if facts.get("occupation"):
        out.append(f"you work as {facts['occupation']}")
    if facts.get("income_band"):
        out.append(f"your household income is {facts['income_band']} a year")
    if facts.get("credit_tier"):
        out.append(f"your credit is {facts['credit_tier']}")
    if "homeowner" in facts:
        out.append("you own your home" if facts["homeowner"] else "you rent your home")
    if "auto_loans" in facts:
        n = facts["auto_loans"]
        out.append(f"you have {n} auto loan{'s' if n != 1 else ''}" if n else "you have no auto loan")
    if "political_donor" in facts:
        out.append(
            "you give money to political causes"
            if facts["political_donor"]
            else "you do not give money to political causes"
        )
    out += answer_statements(facts.get("answers"))
    return out


# --- what a reply states -----------------------------------------------------------------------


@dataclass(frozen=True)
class Contradiction:
    """One first-person statement at odds with a fact: `text` names both sides."""

    kind: str
    text: str
    sentence: str


@dataclass
class FactCheck:
    """Outcome for one reply: `contradictions` with the facts, `character` breaks (assistant talk)."""

    contradictions: list[Contradiction] = field(default_factory=list)
    character: list[str] = field(default_factory=list)
    stated: list[str] = field(default_factory=list)

    @property
    def consistent(self) -> bool:
        return not self.contradictions

    @property
    def in_character(self) -> bool:
        return not self.character

    @property
    def ok(self) -> bool:
        return self.consistent and self.in_character

    @property
    def violations(self) -> list[str]:
        return [c.text for c in self.contradictions]

    def problems(self) -> list[str]:
        """Every finding in words, for a rewrite note and the debug record."""
        return self.violations + [f"you spoke as an assistant or AI ('{c}')" for c in self.character]

    def cost(self) -> tuple[int, int]:
        """Lower is better: character breaks weigh more than a contradicted fact."""
        return (len(self.character), len(self.contradictions))


_SENTENCE = re.compile(r"[^.!?\n]+(?:[.!?]+|$)")


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.findall(text) if s.strip()]


def parse_age_band(band: str) -> tuple[int, int]:
    """ "25 - 34" -> (25, 34); "65+" -> (65, 120); "under 18" -> (0, 17)."""
    nums = [int(n) for n in re.findall(r"\d+", band)]
    if "+" in band and nums:
        return nums[0], 120
    if "under" in band.lower() and nums:
        return 0, nums[0] - 1
    if len(nums) >= 2:
        return nums[0], nums[1]
    if nums:
        return nums[0], nums[0]
    raise ValueError(f"Not an age band: {band!r}")


_NOT_AGE = r"(?!\s*(?:%|percent|minutes|hours|days|weeks|months|miles|dollars|k\b|am\b|pm\b|times|kids|children))"


def stated_ages(text: str) -> list[tuple[int, int]]:
    """Age ranges the speaker states about themselves."""
    found: list[tuple[int, int]] = []
    low = text.lower()
    for m in re.finditer(
        r"\b" + _SELF + r"\s+(?:about\s+|almost\s+|nearly\s+|just\s+|now\s+)?(\d{1,3})\b" + _NOT_AGE, low
    ):
        found.append((int(m[1]), int(m[1])))
    for m in re.finditer(r"\b(?:" + _SELF + r"|as)\b[^.!?;]{0,30}?\ban?\s+(\d{1,3})[- ]years?[- ]old\b", low):
        found.append((int(m[1]), int(m[1])))
    for m in re.finditer(r"\bi\s+(?:just\s+)?turned\s+(\d{1,3})\b", low):
        found.append((int(m[1]), int(m[1])))
    for m in re.finditer(r"\bmy\s+age\s+is\s+(\d{1,3})\b", low):
        found.append((int(m[1]), int(m[1])))
    for m in re.finditer(
        r"\bmy\s+(early\s+|mid\s+|mid-|late\s+)?(twenties|thirties|forties|fifties|sixties|"
        r"seventies|eighties|teens|[2-8]0s|[2-8]0's)\b",
        low,
    ):
        found.append(decade_span(m[2], m[1]))
    return found


def stated_genders(text: str) -> list[str]:
    """Genders the speaker gives themselves: "I'm a mom", "as a guy", "I'm a 26-year-old female"."""
    found: list[str] = []
    patterns = (
        r"\bas\s+an?\s+((?:[a-z0-9-]+\s+){0,2}[a-z]+)\b",
        r"\b" + _SELF + r"\b(?:(?!\b(?:to|with|for|of|about|than|like|and|my|his|her|their|our)\b)[^.!?;]){0,40}?"
        r"\b(?:a|an|the)\s+((?:[a-z0-9-]+\s+){0,2}[a-z]+)\b",
    )
    for pattern in patterns:
        for m in re.finditer(pattern, text.lower()):
            for word in m[1].split():
                if word in FEMALE_WORDS:
                    found.append("female")
                    break
                if word in MALE_WORDS:
                    found.append("male")
                    break
    return found


_PLACE_CUES = re.compile(
    r"\b(?:i\s+live\s+in|i've\s+lived\s+in|i\s+have\s+lived\s+in|" + _SELF + r"\s+from|i\s+come\s+from|"
    r"" + _SELF + r"\s+(?:based|living|located|settled)\s+in|here\s+in|i\s+moved\s+to|born\s+and\s+raised\s+in|"
    r"my\s+home\s+(?:is\s+)?in|i\s+grew\s+up\s+in|i\s+reside\s+in|i\s+hail\s+from|we\s+live\s+in|"
    r"" + _SELF + r"\s+an?\s+[a-z0-9 -]{0,40}?\s+(?:in|from))\s+(?P<place>[a-z .'-]{2,40})",
    re.IGNORECASE,
)


def _known_place(fragment: str) -> str | None:
    """The longest gazetteer place at the start of `fragment`."""
    words = re.sub(r"[^a-z .'-]", " ", fragment.lower()).split()
    for size in range(min(4, len(words)), 0, -1):
        candidate = " ".join(words[:size]).strip(".,' ")
        if candidate in CITIES or candidate in US_STATES or candidate in COUNTRIES or candidate in REGION_NAMES:
            return candidate
    return None


def stated_places(text: str) -> list[str]:
    return [place for m in _PLACE_CUES.finditer(text) if (place := _known_place(m["place"]))]


def _home_names(facts: Mapping[str, Any]) -> set[str]:
    """Every name the persona's home can be called: city, state, region, country."""
    names = {part.strip().lower() for part in str(facts.get("location", "")).split(",") if part.strip()}
    if facts.get("state"):
        names.add(str(facts["state"]).lower())
    if facts.get("country"):
        names.add(str(facts["country"]).lower())
    for name in list(names):
        if name in CITIES:
            names.add(CITIES[name])
        if STATE_CODES.get(name.upper()):
            names.add(STATE_CODES[name.upper()])
    regions = {STATE_REGION[n] for n in names if n in STATE_REGION}
    if facts.get("region"):
        regions.add(str(facts["region"]).lower())
    names |= regions
    if names & (US_STATES | US_NAMES) or regions or any(CITIES.get(n) in US_STATES for n in names):
        names |= US_NAMES
    return names


def _place_fits(place: str, names: set[str]) -> bool:
    if place in REGION_NAMES:
        region = REGION_NAMES[place]
        # only a persona whose state (or region) is known can be held to a region
        return region in names or not any(n in STATE_REGION.values() for n in names)
    home = CITIES.get(place, place)
    return place in names or home in names


def normalise_tier(word: str) -> str:
    w = word.strip().lower().replace(" ", "-").replace("sub-prime", "subprime").replace("superprime", "super-prime")
    return w.replace("nearprime", "near-prime").replace("deep-sub-prime", "deep-subprime")


def tiers_for_score(score: int) -> set[str]:
    """CFPB score bands: <580 deep subprime, 580-619 subprime, 620-659 near-prime,
    660-719 prime, 720+ super-prime."""
    if score < 580:
        return {"deep-subprime"}
    if score < 620:
        return {"subprime"}
    if score < 660:
        return {"near-prime"}
    if score < 720:
        return {"prime"}
    return {"super-prime"}


ADJECTIVE_TIERS = {
    "excellent": {"super-prime", "prime"},
    "great": {"super-prime", "prime"},
    "perfect": {"super-prime"},
    "good": {"prime", "super-prime", "near-prime"},
    "solid": {"prime", "super-prime"},
    "fair": {"near-prime", "prime"},
    "okay": {"near-prime", "prime"},
    "average": {"near-prime", "prime"},
    "poor": {"subprime", "deep-subprime"},
    "bad": {"subprime", "deep-subprime"},
    "terrible": {"deep-subprime", "subprime"},
    "awful": {"deep-subprime", "subprime"},
    "damaged": {"subprime", "deep-subprime"},
    "shaky": {"subprime", "near-prime"},
}


def stated_credit(text: str) -> list[set[str]]:
    low = text.lower()
    found: list[set[str]] = []
    for m in re.finditer(
        r"\bmy\s+credit\s+score\s+(?:is\s+|of\s+)?(?:around\s+|about\s+|roughly\s+)?(\d{3})\b|"
        r"\bi\s+(?:have|'ve\s+got|got)\s+an?\s+(\d{3})\s+credit(?:\s+score)?\b|"
        r"\bi(?:\s+have|'ve\s+got|\s+got|'ve)\s+a\s+credit\s+score\s+of\s+(?:about\s+|around\s+)?(\d{3})\b",
        low,
    ):
        score = int(m[1] or m[2] or m[3])
        if 300 <= score <= 850:
            found.append(tiers_for_score(score))
    for m in re.finditer(r"\b(deep[\s-]?sub[\s-]?prime|super[\s-]?prime|near[\s-]?prime|sub[\s-]?prime|prime)\b", low):
        before = low[max(0, m.start() - 40) : m.start()]
        if re.search(r"\b(?:i'm|i’m|i\s+am|my|i\s+have|i\s+fall|i\s+sit|i'd\s+be|considered)\b", before):
            found.append({normalise_tier(m[1])})
    for m in re.finditer(
        r"\b(?:my\s+credit(?:\s+score)?\s+is\s+(?:pretty\s+|really\s+|very\s+)?(\w+)|"
        r"i(?:\s+have|'ve|\s+got|'ve\s+got)\s+(?:an?\s+)?(?:pretty\s+|really\s+|very\s+)?(\w+)\s+credit)\b",
        low,
    ):
        adjective = m[1] or m[2]
        if adjective in ADJECTIVE_TIERS:
            found.append(ADJECTIVE_TIERS[adjective])
    return found


_KIDS = r"(?:kids?|children|child|sons?|daughters?|toddlers?|baby|babies|teenagers?|stepkids|stepsons?|stepdaughters?)"
_NUMBER = r"(?:a|an|one|two|three|four|five|six|seven|eight|nine|ten|\d{1,2})"
_PARTNER = r"(?:husband|wife|spouse|partner|boyfriend|girlfriend|fianc[eé]e?|hubby)"
_NEG = r"(?:don't|do\s+not|dont|didn't|never|can't|cannot|won't)"
_KIDS_CLAIMS = (
    r"\b(?:my|our)\s+(?:(?:two|three|four|\d|little|young|teenage|grown|adult|youngest|oldest|eldest)\s+)?" + _KIDS + r"\b",
    r"\b(?:i|we)(?:\s+have|'ve\s+got|'ve|\s+got|\s+raise|\s+am\s+raising|\s+are\s+raising)\s+(?:[\w,]+\s+){0,4}?" + _NUMBER
    + r"\s+(?:\w+\s+){0,2}?" + _KIDS + r"\b",
    r"\b(?:mom|mother|dad|father|parent|mum)\s+(?:of|to)\s+" + _NUMBER + r"\b",
    r"\b" + _SELF + r"\s+an?\s+(?:single\s+|stay-at-home\s+|working\s+|proud\s+|busy\s+)?(?:mom|mother|dad|father|parent|mum)\b",
    r"\ba\s+family\s+of\s+(?:\d{1,2}|three|four|five|six|seven|eight|nine|ten)\b",
    r"\b" + _SELF + r"\s+(?:\w+\s+){0,2}?with\s+" + _NUMBER + r"\s+(?:\w+\s+)?" + _KIDS + r"\b",
)  # fmt: skip
_NO_KIDS = (
    r"\bi\s+" + _NEG + r"\s+have\s+(?:any\s+)?(?:kids|children)\b",
    r"\bno\s+(?:kids|children)\s+(?:of\s+my\s+own|yet)\b",
    r"\bi(?:'m|\s+am)\s+(?:childless|child-free|childfree)\b",
)
_PARTNER_CLAIMS = (
    r"\bmy\s+(?:(?:loving|lovely|dear|amazing|wonderful|sweet|supportive)\s+)?" + _PARTNER + r"\b",
    r"\b(?:i'm|i\s+am|we're|we\s+are|i've\s+been|we've\s+been|i\s+got|we\s+got)\s+(?:happily\s+)?married\b",
    r"\bi\s+(?:live|share\s+(?:a|my|the)\s+\w+)\s+with\s+my\s+" + _PARTNER + r"\b",
    r"\bi(?:\s+have|'ve\s+got|\s+got)\s+an?\s+(?:\w+\s+)?" + _PARTNER + r"\b",
)
_WE_HOUSEHOLD = (
    r"\bwe(?:'re|\s+are)\s+an?\s+(?:[\w-]+\s+){0,3}(?:family|household|couple)\b|"
    r"\bwe\s+(?:have|live\s+in|own|rent|share)\s+(?:a|an|our|the)\s+(?:[\w-]+\s+){0,2}?"
    r"(?:home|house|apartment|place|condo|dog|cat|pet|kids|children)\b|"
    r"\bour\s+(?:home|house|apartment|condo|household|family\s+home)\b"
)
_ALONE = (r"\bi\s+live\s+(?:all\s+)?(?:by\s+myself|alone|on\s+my\s+own)\b", r"\bi\s+(?:have|'ve)\s+no\s+roommates?\b")
_NOT_PARTNERED = (
    r"\b" + _SELF + r"\s+(?:still\s+|currently\s+)?(?:single|divorced|unmarried|not\s+married)\b",
    r"\bi\s+(?:don't|do\s+not)\s+have\s+a\s+" + _PARTNER + r"\b",
)
_LIVE_WITH = re.compile(r"\bi\s+live\s+with\s+(?P<who>[^.!?;]{1,80})")


def _matches(patterns: tuple[str, ...], sentence: str) -> bool:
    return any(re.search(p, sentence) for p in patterns)


def _household_contradictions(sentence: str, facts: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(kind, text) pairs for one lower-cased sentence."""
    out: list[tuple[str, str]] = []
    household = facts.get("household")
    children = facts.get("children")
    age = facts.get("age") or (parse_age_band(facts["age_band"])[0] if facts.get("age_band") else None)
    live_with = _LIVE_WITH.search(sentence)
    with_whom = live_with["who"] if live_with else ""
    kids_at_home = bool(re.search(r"\b" + _KIDS + r"\b", with_whom))
    kids_named = _matches(_KIDS_CLAIMS, sentence) and not re.search(r"\b(?:no|without|never)\s+" + _KIDS, sentence)
    if children is False and (kids_at_home or (kids_named and (age is None or age < GROWN_CHILDREN_AGE))):
        if household in ("Single", "Couple") or household is None:
            out.append(("children", "you said you have children, but no children live with you"))
    if children is True and _matches(_NO_KIDS, sentence):
        out.append(("children", "you said you have no children, but your children live with you"))
    partner = _matches(_PARTNER_CLAIMS, sentence) or bool(re.search(r"\b" + _PARTNER + r"\b", with_whom))
    if household in ("Single", "Single parent") and partner and not re.search(r"\b(?:ex|late|former)[- ]", sentence):
        out.append(("household", f"you said you have a spouse or partner, but {HOUSEHOLD_TEXT[household]}"))
    if household in PARTNER_HOUSEHOLDS and _matches(_NOT_PARTNERED, sentence):
        out.append(("household", f"you said you are single, but {HOUSEHOLD_TEXT[household]}"))
    if household and household != "Single" and _matches(_ALONE, sentence):
        out.append(("household", f"you said you live alone, but {HOUSEHOLD_TEXT[household]}"))
    if household == "Single" and re.search(_WE_HOUSEHOLD, sentence) and not out:
        out.append(("household", f"you said you live with others, but {HOUSEHOLD_TEXT['Single']}"))
    if household == "Single" and with_whom and not re.search(r"\b(?:cat|dog|pets?|myself)\b", with_whom):
        if not any(kind == "household" for kind, _ in out):
            out.append(("household", f"you said you live with others, but {HOUSEHOLD_TEXT['Single']}"))
    return out


_EDUCATION_CLAIMS: tuple[tuple[str, set[int]], ...] = (
    (
        r"\bmy\s+(?:master'?s|mba|ph\.?d|doctorate|law\s+degree|graduate\s+degree)\b|"
        r"\bi(?:\s+have|\s+hold|\s+earned|\s+got|\s+finished|\s+completed|'ve\s+got)\s+(?:a|an|my)\s+"
        r"(?:master'?s|mba|ph\.?d|doctorate|graduate\s+degree|law\s+degree)\b|\bi\s+went\s+to\s+(?:grad|graduate|law|medical)\s+school\b",
        {3},
    ),
    (
        r"\bi(?:\s+have|\s+hold|\s+earned|\s+got|\s+finished|'ve\s+got)\s+(?:a|an|my)\s+(?:bachelor'?s|college|four-year|university)"
        r"(?:\s+degree)?\b|\bi\s+graduated\s+(?:from\s+)?(?:college|university)\b|\bmy\s+(?:bachelor'?s|college)\s+degree\b",
        {2, 3},
    ),
    (
        r"\bi\s+dropped\s+out\s+of\s+college\b|\bmy\s+associate'?s\s+degree\b|\bi\s+(?:have|got|earned)\s+an\s+associate'?s\b",
        {1},
    ),
    (
        r"\bi\s+(?:never|didn't|did\s+not)\s+(?:go|went)\s+to\s+college\b|\bi\s+(?:only\s+)?(?:finished|have)\s+"
        r"(?:only\s+)?(?:high\s+school|a\s+high\s+school\s+diploma)\s*(?:only|,\s*that's\s+it)?\b(?=.*\b(?:only|just|never)\b)|"
        r"\bi\s+dropped\s+out\s+of\s+high\s+school\b|\bi\s+(?:didn't|did\s+not|never)\s+finish\s+high\s+school\b|"
        r"\bi\s+(?:don't|do\s+not)\s+have\s+a\s+(?:college\s+)?degree\b",
        {0, 1},
    ),
)
_OWN_CLAIMS = (
    r"\b(?:home|house|apartment|condo|place)\s+(?:that\s+)?(?:i|we)\s+own\b",
    r"\b(?:i|we)\s+own\s+(?:my|our|a|the)\s+(?:own\s+)?(?:home|house|place|condo|townhouse|apartment)\b",
    r"\b" + _SELF + r"\s+an?\s+(?:proud\s+)?homeowner\b",
    r"\bmy\s+mortgage\b",
    r"\b(?:i|we)\s+(?:bought|purchased)\s+(?:my|our|a)\s+(?:first\s+)?(?:home|house|condo)\b",
    r"\bpaid\s+off\s+(?:my|our)\s+(?:mortgage|house|home)\b",
)
_RENT_CLAIMS = (
    r"\b(?:i|we)\s+(?:still\s+|currently\s+)?rent\s+(?:a|an|my|our|the|this)?\s*(?:\w+\s+)?(?:apartment|place|house|home|condo|room|studio|flat|unit)\b",
    r"\b(?:i'm|i\s+am|we're)\s+(?:still\s+|currently\s+)?renting\b",
    r"\bmy\s+landlord\b",
    r"\b" + _SELF + r"\s+an?\s+renter\b",
    r"\bi\s+(?:don't|do\s+not)\s+own\s+(?:a|my)\s+(?:home|house)\b",
    r"\bmy\s+(?:monthly\s+)?rent\b",
)
_AUTO_LOAN_CLAIMS = (
    r"\bmy\s+(?:car|auto|truck|vehicle)\s+(?:loan|payments?|note|financing)\b",
    r"\bi(?:'m|\s+am)\s+(?:still\s+)?paying\s+(?:off|down)\s+(?:my|a|the|our)\s+(?:car|truck|auto|vehicle)\b",
    r"\bi(?:\s+have|'ve\s+got|\s+got|\s+took\s+out)\s+(?:a|an|one|two|three)\s+(?:car|auto|truck|vehicle)\s+loans?\b",
    r"\bi\s+financed\s+(?:my|a|the)\s+(?:car|truck|vehicle)\b",
)
_NO_AUTO_LOAN = (
    r"\bi\s+(?:don't|do\s+not)\s+have\s+(?:a|an|any)\s+(?:car|auto|vehicle)\s+(?:loans?|payments?)\b",
    r"\bno\s+(?:car|auto)\s+(?:loans?|payments?)\b",
    r"\bi\s+(?:don't|do\s+not)\s+(?:have|own)\s+a\s+(?:car|vehicle)\b",
    r"\bi\s+(?:don't|do\s+not)\s+drive\b",
)


def money_value(amount: str, unit: str | None) -> float:
    value = float(amount.replace(",", ""))
    if unit and unit.lower() in ("k", "thousand", "grand"):
        value *= 1000
    return value


def stated_incomes(text: str) -> list[float]:
    """Yearly incomes the speaker states ("I make $45,000 a year", "I earn about 4k a month")."""
    found: list[float] = []
    for m in re.finditer(
        r"\b(?:i|we)\s+(?:make|earn|bring\s+in|take\s+home|pull\s+in)\s+(?:about\s+|around\s+|roughly\s+|just\s+|only\s+)?"
        r"\$(\d[\d,]*(?:\.\d+)?)\s*(k|thousand|grand)?\s+(?:a|per|each)\s+(year|month)\b|"
        r"\bmy\s+(?:salary|income)\s+is\s+(?:about\s+|around\s+)?\$(\d[\d,]*(?:\.\d+)?)\s*(k|thousand|grand)?\b",
        text.lower(),
    ):
        if m[1]:
            value = money_value(m[1], m[2]) * (12 if m[3] == "month" else 1)
        else:
            value = money_value(m[4], m[5])
        if value >= 1000:
            found.append(value)
    return found


def band_limits(band: str) -> tuple[float, float]:
    nums = [float(n.replace(",", "")) for n in re.findall(r"\d[\d,]*", band)]
    if "+" in band and nums:
        return nums[0], float("inf")
    if len(nums) >= 2:
        return nums[0], nums[1]
    raise ValueError(f"Not an income band: {band!r}")


def stated_occupations(text: str) -> list[str]:
    found: list[str] = []
    for m in re.finditer(
        r"\b(?:" + _SELF + r"|i\s+work\s+as|i've\s+been|i\s+have\s+been|i\s+worked\s+as)\s+(?:a|an)\s+"
        r"((?:[a-z-]+\s+){0,2}[a-z-]+)\b",
        text.lower(),
    ):
        words = m[1].split()
        at = next((i for i, w in enumerate(words) if w in OCCUPATIONS), None)
        if at is not None and not (at and words[at - 1] in ("former", "retired", "ex")):
            found.append(" ".join(words[: at + 1]))
    return found


def _occupation_fits(stated: str, occupation: str) -> bool:
    have = {_OCCUPATION_ALIASES.get(w, w) for w in re.findall(r"[a-z]+", occupation)}
    said = [_OCCUPATION_ALIASES.get(w, w) for w in stated.split()]
    if said[-1] in ("retiree",) and "retired" in occupation:
        return True
    return said[-1] in have or any(w.rstrip("s") in have for w in said[-1:])


def check_facts(reply: str, facts: Mapping[str, Any]) -> list[Contradiction]:
    """Every first-person statement of `reply` at odds with `facts` (see the module's list)."""
    out: list[Contradiction] = []
    for sentence in sentences(reply):
        low = sentence.lower().replace("’", "'")
        for kind, text in _sentence_contradictions(low, facts) + answer_contradictions(low, facts.get("answers")):
            out.append(Contradiction(kind, text, sentence))
    return out


Contradictions = list[tuple[str, str]]


def _age_contradictions(low: str, facts: Mapping[str, Any]) -> Contradictions:
    if "age" not in facts and not facts.get("age_band"):
        return []
    if "age" in facts:
        lo, hi, label = facts["age"] - 1, facts["age"] + 1, f"you are {facts['age']}"
    else:
        lo, hi = parse_age_band(facts["age_band"])
        label = f"your age band is {facts['age_band']}"
    out: Contradictions = []
    for a, b in stated_ages(low):
        if b < lo or a > hi:
            said = f"{a}" if a == b else f"{a}-{b}"
            out.append(("age", f"age {a}-{b} outside {facts.get('age_band') or lo}: you said {said}, but {label}"))
    return out


def _gender_contradictions(low: str, facts: Mapping[str, Any]) -> Contradictions:
    if facts.get("gender") not in ("female", "male"):
        return []
    return [
        ("gender", f"gender {gender} but persona is {facts['gender']}")
        for gender in stated_genders(low)
        if gender != facts["gender"]
    ]


def _place_contradictions(low: str, facts: Mapping[str, Any]) -> Contradictions:
    if not (facts.get("location") or facts.get("state") or facts.get("country")):
        return []
    names = _home_names(facts)
    home = facts.get("location") or str(facts.get("state", "")).title() or facts.get("country")
    return [
        ("place", f"place {place} but persona lives in {home}")
        for place in stated_places(low)
        if not _place_fits(place, names)
    ]


def _family_contradictions(low: str, facts: Mapping[str, Any]) -> Contradictions:
    return _household_contradictions(low, facts) if facts.get("household") or "children" in facts else []


def _education_contradictions(low: str, facts: Mapping[str, Any]) -> Contradictions:
    if not facts.get("education"):
        return []
    level = EDUCATION_LEVELS.index(facts["education"])
    for pattern, levels in _EDUCATION_CLAIMS:
        if re.search(pattern, low) and level not in levels:
            return [("education", f"education: what you said does not fit {facts['education'].lower()}")]
    return []


def _wealth_contradictions(low: str, facts: Mapping[str, Any]) -> Contradictions:
    out: Contradictions = []
    if facts.get("income_band"):
        lo_income, hi_income = band_limits(facts["income_band"])
        for value in stated_incomes(low):
            if value < lo_income * 0.75 or value > hi_income * 1.25:
                out.append(("income", f"income ${value:,.0f} a year but persona earns {facts['income_band']}"))
    if facts.get("net_worth_decile") and facts["net_worth_decile"] < 9:
        if re.search(r"\b" + _SELF + r"\s+(?:a\s+)?(?:multi-?)?millionaire\b|\bi'm\s+(?:very\s+)?wealthy\b", low):
            out.append(
                ("net_worth", f"you said you are wealthy, but your net worth decile is {facts['net_worth_decile']}")
            )
    if facts.get("credit_tier"):
        want = facts["credit_tier"]
        for tiers in stated_credit(low):
            if want not in tiers:
                out.append(("credit", f"credit {'/'.join(sorted(tiers))} but persona is {want}"))
    return out


def _home_contradictions(low: str, facts: Mapping[str, Any]) -> Contradictions:
    if "homeowner" not in facts:
        return []
    out: Contradictions = []
    if facts["homeowner"] and _matches(_RENT_CLAIMS, low) and not _matches(_OWN_CLAIMS, low):
        out.append(("home", "you said you rent, but you own your home"))
    if (
        not facts["homeowner"]
        and _matches(_OWN_CLAIMS, low)
        and not re.search(r"\b(?:someday|one day|dream|hope|want|plan|wish|would|could)\b", low)
    ):
        out.append(("home", "you said you own your home, but you rent it"))
    return out


def _auto_loan_contradictions(low: str, facts: Mapping[str, Any]) -> Contradictions:
    if "auto_loans" not in facts:
        return []
    out: Contradictions = []
    hypothetical = re.search(r"\b(?:if|would|might|could|thinking|considering|plan)\b", low)
    if facts["auto_loans"] == 0 and _matches(_AUTO_LOAN_CLAIMS, low) and not hypothetical:
        out.append(("auto_loan", "you said you have a car loan, but you have no auto loan"))
    if facts["auto_loans"] > 0 and _matches(_NO_AUTO_LOAN, low):
        n = facts["auto_loans"]
        out.append(
            ("auto_loan", f"you said you have no car loan or car, but you have {n} auto loan{'s' if n != 1 else ''}")
        )
    return out


def _occupation_contradictions(low: str, facts: Mapping[str, Any]) -> Contradictions:
    if not facts.get("occupation"):
        return []
    return [
        ("occupation", f"occupation {job} but persona works as {facts['occupation']}")
        for job in stated_occupations(low)
        if not _occupation_fits(job, facts["occupation"])
    ]


# In the order a rewrite note lists them.
_CONTRADICTION_CHECKS = (
    _age_contradictions,
    _gender_contradictions,
    _place_contradictions,
    _family_contradictions,
    _education_contradictions,
    _wealth_contradictions,
    _home_contradictions,
    _auto_loan_contradictions,
    _occupation_contradictions,
)


def _sentence_contradictions(low: str, facts: Mapping[str, Any]) -> Contradictions:
    return [found for check in _CONTRADICTION_CHECKS for found in check(low, facts)]


# --- character -----------------------------------------------------------------------------------

_MACHINE = (
    r"(?:ai|a\.i\.|artificial\s+intelligence|language\s+model|large\s+language\s+model|llm|chat\s?bot|bot|"
    r"virtual\s+assistant|digital\s+assistant|ai\s+assistant|computer\s+program|software\s+program|"
    r"machine\s+learning\s+model|neural\s+network|algorithm)"
)
_NOT_JOB = r"(?!\s+(?:engineer|developer|researcher|scientist|expert|company|startup|class|course|tool|app|product|specialist))"
_ASSISTANT_JOBS = (
    r"(?:dental|medical|legal|administrative|executive|personal|teaching|research|nursing|physician|"
    r"office|store|sales|marketing|program|project|library|pharmacy|veterinary|shop)\s+assistant"
)
_BREAKS = (
    r"\bas\s+an?\s+" + _MACHINE + r"\b" + _NOT_JOB,
    r"\bas\s+(?:your|an|a)\s+(?:helpful\s+|friendly\s+)?assistant\b",
    r"\b" + _SELF + r"\s+(?:just\s+|only\s+|simply\s+|merely\s+|not\s+a\s+person\s*,?\s*)?(?:an?|your|the)\s+"
    r"(?:\w+\s+){0,2}?" + _MACHINE + r"\b" + _NOT_JOB,
    r"\b"
    + _SELF
    + r"\s+(?:just\s+|only\s+|simply\s+)?(?:an?|your)\s+(?:helpful\s+|friendly\s+|personal\s+)?assistant\b(?!\s+\w)",
    r"\b"
    + _SELF
    + r"\s+(?:here|designed|programmed|trained|built|created|made)\s+to\s+(?:help|assist|answer|provide|support)\b",
    r"\bhow\s+(?:can|may|could)\s+i\s+(?:help|assist)\s+you\b",
    r"\b(?:is\s+there\s+)?anything\s+else\s+i\s+can\s+(?:help|assist|do\s+for\s+you)\b",
    r"\bi(?:'d|\s+would)\s+be\s+(?:happy|glad)\s+to\s+(?:help|assist)\s+you\b",
    r"\b" + _SELF + r"\s+(?:happy|glad)\s+to\s+(?:help|assist)\b",
    r"\bi\s+(?:help|assist)\s+(?:people|users|customers|clients|folks|individuals|everyone|anyone|you)\s+"
    r"(?:with|to|by|in|manage|find|plan|understand|make|save|budget|navigate)\b",
    r"\bi\s+(?:help|assist)\s+with\s+(?:everything|anything|all\s+kinds|a\s+(?:wide\s+)?(?:range|variety))\b",
    r"\bi\s+can\s+(?:help|assist)\s+you\s+(?:with|to|in|find|plan|manage|understand)\b",
    r"\bmy\s+(?:purpose|role|job|goal|function)\s+is\s+to\s+(?:help|assist|provide|answer|support)\b",
    r"\bi\s+(?:don't|do\s+not|can't|cannot)\s+have\s+(?:personal\s+|real\s+|any\s+)?(?:experiences|feelings|emotions|opinions|"
    r"preferences|a\s+body|a\s+physical|an\s+age|a\s+family|a\s+home|personal\s+\w+)\b",
    r"\b" + _SELF + r"\s+not\s+(?:a\s+)?(?:real|human|an?\s+actual|a\s+living)\s*(?:person|human|being)?\b",
    r"\bi\s+(?:was|have\s+been)\s+(?:created|designed|trained|programmed|built|developed|made)\s+(?:by|to|on)\b",
    r"\bmy\s+(?:programming|training\s+data|training|developers|creators|knowledge\s+cutoff)\b",
    r"\b(?:openai|chatgpt|hugging\s?face|smollm|anthropic)\b",
    r"\b(?:i'm|i\s+am|i'm\s+not|i\s+am\s+not|isn't|is\s+not|was|wasn't|been)\s+programmed\b",
    r"\b(?:sorry|apologi[sz]e)\s+for\s+(?:the|any)\s+confusion\b",
    r"\bmy\s+ai\b",
    r"\bi\s+(?:don't|do\s+not)\s+have\s+(?:a\s+)?(?:profile|personal\s+information|personal\s+data|access\s+to)\b",
    r"\b" + _SELF + r"\s+(?:not\s+able|unable)\s+to\s+(?:provide|share|give|answer|assist)\s+(?:you\s+with\s+)?"
    r"(?:that|this|any|personal|specific|information|details)\b",
    r"\bsorry,?\s+but\s+i\s+(?:can't|cannot|am\s+unable\s+to|'m\s+unable\s+to)\s+(?:help|assist|provide|answer|comply)\b",
    r"\b" + _SELF + r"\s+(?:a\s+)?(?:digital|virtual|online|automated)\s+\w+",
)


def breaks_character(reply: str, profile: str = "") -> list[str]:
    """The assistant talk in `reply` (phrases found), empty when it speaks as the persona. A
    persona whose own profile names an assistant job may say "I'm an assistant"; one whose job
    is helping people (an adviser, a coach) may say it helps people."""
    low = reply.lower().replace("’", "'")
    profile_low = profile.lower()
    if re.search(r"\b(?:ai|assistant|chat\s?bot|bot|language\s+model|virtual|digital\s+helper)\b", profile_low):
        return []  # a persona written as an assistant or a bot may say so
    found: list[str] = []
    helping_job = re.search(
        r"\b(?:advis[eo]r|planner|coach|counselou?r|consultant|agent|teacher|nurse|therapist|tutor|helps?\s+people|"
        r"customer\s+service|support)\b",
        profile_low,
    )
    for pattern in _BREAKS:
        for m in re.finditer(pattern, low):
            phrase = m[0]
            if "assistant" in phrase and (
                re.search(_ASSISTANT_JOBS, low[max(0, m.start() - 20) : m.end() + 20]) or "assistant" in profile_low
            ):
                continue
            if helping_job and re.match(r"i\s+(?:help|assist|can\s+help|can\s+assist)", phrase):
                continue
            if phrase.strip() not in found:
                found.append(phrase.strip())
    return found


def check_reply_facts(reply: str, facts: Mapping[str, Any], profile: str = "") -> FactCheck:
    """The reply's contradictions with `facts` and its character breaks."""
    check = FactCheck(contradictions=check_facts(reply, facts), character=breaks_character(reply, profile))
    low = reply.lower()
    check.stated += [f"age {a}-{b}" for a, b in stated_ages(low)]
    check.stated += [f"gender {g}" for g in stated_genders(low)]
    check.stated += [f"place {p}" for p in stated_places(low)]
    return check
