"""Persona-fact consistency: a reply must not contradict the persona's facts.

Rule-based and deterministic. Only first-person statements count ("I'm 52",
"I live in Ohio", "as a dad", "my credit is excellent"): a reply about someone
else's age or home is not a contradiction. For each fact kind it finds the
stated values and compares them with the persona's:

- age: stated numbers ("I'm 29", "I am 29 years old", "I turned 40") and decades
  ("in my thirties", "in my 30s", "early twenties") must overlap the age band
  ("25 - 34", "65+");
- gender: self-descriptions with gendered words ("I'm a mom", "as a guy");
- location: a known place (US state, large city, country) after "I live in",
  "I'm from", "here in", "based in", "moved to" must be the persona's city, state
  or country; places outside the small gazetteer are not judged;
- credit tier: tier words (super-prime, prime, near-prime, subprime), credit
  adjectives ("excellent credit", "my credit is bad") and scores ("a 580
  credit score") map to tiers by the CFPB bands and must include the persona's.

A reply that states nothing about a fact is consistent with it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

CREDIT_TIERS = ("deep-subprime", "subprime", "near-prime", "prime", "super-prime")
_SELF = r"(?:i\s*am|i'm|i’m|im)"
_DECADES = {
    "twenties": 20,
    "thirties": 30,
    "forties": 40,
    "fifties": 50,
    "sixties": 60,
    "seventies": 70,
    "eighties": 80,
    "teens": 13,
}
FEMALE_WORDS = {
    "woman",
    "girl",
    "lady",
    "mom",
    "mother",
    "mum",
    "wife",
    "grandmother",
    "grandma",
    "daughter",
    "sister",
    "female",
    "gal",
    "aunt",
    "widow",
    "businesswoman",
}
MALE_WORDS = {
    "man",
    "guy",
    "boy",
    "gentleman",
    "dad",
    "father",
    "husband",
    "grandfather",
    "grandpa",
    "son",
    "brother",
    "male",
    "dude",
    "uncle",
    "widower",
    "businessman",
}
US_STATES = {
    "alabama",
    "alaska",
    "arizona",
    "arkansas",
    "california",
    "colorado",
    "connecticut",
    "delaware",
    "florida",
    "georgia",
    "hawaii",
    "idaho",
    "illinois",
    "indiana",
    "iowa",
    "kansas",
    "kentucky",
    "louisiana",
    "maine",
    "maryland",
    "massachusetts",
    "michigan",
    "minnesota",
    "mississippi",
    "missouri",
    "montana",
    "nebraska",
    "nevada",
    "new hampshire",
    "new jersey",
    "new mexico",
    "new york",
    "north carolina",
    "north dakota",
    "ohio",
    "oklahoma",
    "oregon",
    "pennsylvania",
    "rhode island",
    "south carolina",
    "south dakota",
    "tennessee",
    "texas",
    "utah",
    "vermont",
    "virginia",
    "washington",
    "west virginia",
    "wisconsin",
    "wyoming",
}
CITIES = {  # city -> state or country
    "austin": "texas",
    "houston": "texas",
    "dallas": "texas",
    "san antonio": "texas",
    "los angeles": "california",
    "san francisco": "california",
    "san diego": "california",
    "sacramento": "california",
    "seattle": "washington",
    "portland": "oregon",
    "denver": "colorado",
    "phoenix": "arizona",
    "chicago": "illinois",
    "detroit": "michigan",
    "miami": "florida",
    "orlando": "florida",
    "tampa": "florida",
    "atlanta": "georgia",
    "boston": "massachusetts",
    "new york city": "new york",
    "nyc": "new york",
    "brooklyn": "new york",
    "philadelphia": "pennsylvania",
    "pittsburgh": "pennsylvania",
    "cleveland": "ohio",
    "columbus": "ohio",
    "nashville": "tennessee",
    "memphis": "tennessee",
    "minneapolis": "minnesota",
    "milwaukee": "wisconsin",
    "las vegas": "nevada",
    "salt lake city": "utah",
    "kansas city": "missouri",
    "st. louis": "missouri",
    "charlotte": "north carolina",
    "raleigh": "north carolina",
    "baltimore": "maryland",
    "new orleans": "louisiana",
    "boise": "idaho",
    "albuquerque": "new mexico",
    "omaha": "nebraska",
    "des moines": "iowa",
    "anchorage": "alaska",
    "honolulu": "hawaii",
    "london": "united kingdom",
    "paris": "france",
    "berlin": "germany",
    "toronto": "canada",
    "vancouver": "canada",
    "sydney": "australia",
    "tokyo": "japan",
    "mexico city": "mexico",
    "dublin": "ireland",
    "madrid": "spain",
    "rome": "italy",
}
COUNTRIES = {
    "united states",
    "usa",
    "america",
    "canada",
    "mexico",
    "united kingdom",
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
}
_US_NAMES = {"united states", "usa", "america"}
_PLACE_CUES = re.compile(
    r"\b(?:i\s+live\s+in|i've\s+lived\s+in|i\s+have\s+lived\s+in|" + _SELF + r"\s+from|"
    r"" + _SELF + r"\s+(?:based|living|located)\s+in|here\s+in|i\s+moved\s+to|born\s+and\s+raised\s+in|"
    r"my\s+home\s+(?:is\s+)?in|i\s+grew\s+up\s+in|i\s+reside\s+in)\s+(?P<place>[a-z .'-]{2,40})",
    re.IGNORECASE,
)


@dataclass
class FactCheck:
    """Outcome of one reply: `violations` name each contradiction found."""

    violations: list[str] = field(default_factory=list)
    stated: list[str] = field(default_factory=list)

    @property
    def consistent(self) -> bool:
        return not self.violations


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


def stated_ages(text: str) -> list[tuple[int, int]]:
    """Age ranges the speaker states about themselves."""
    found: list[tuple[int, int]] = []
    low = text.lower()
    for m in re.finditer(
        _SELF + r"\s+(?:about\s+|almost\s+|nearly\s+|just\s+|now\s+)?(\d{1,3})\b"
        r"(?!\s*(?:%|percent|minutes|hours|days|weeks|months|miles|dollars|k\b|am\b|pm\b))",
        low,
    ):
        found.append((int(m[1]), int(m[1])))
    for m in re.finditer(r"\bi\s+(?:just\s+)?turned\s+(\d{1,3})\b", low):
        found.append((int(m[1]), int(m[1])))
    for m in re.finditer(
        r"\bmy\s+(early\s+|mid\s+|mid-|late\s+)?(twenties|thirties|forties|fifties|sixties|"
        r"seventies|eighties|teens|[2-8]0s|[2-8]0's)\b",
        low,
    ):
        word = m[2]
        start = _DECADES[word] if word in _DECADES else int(word[:2])
        end = 19 if word == "teens" else start + 9
        part = (m[1] or "").strip(" -")
        if part == "early":
            end = start + 4
        elif part == "late":
            start += 5
        elif part == "mid":
            start, end = start + 3, start + 7
        found.append((start, end))
    return found


def stated_genders(text: str) -> list[str]:
    """Genders the speaker gives themselves: "I'm a mom", "as a guy", "I'm 52, a proud dad"."""
    found: list[str] = []
    patterns = (
        r"\bas\s+an?\s+((?:[a-z-]+\s+){0,2}[a-z]+)\b",
        r"\b" + _SELF + r"\b(?:(?!\b(?:to|with|for|of|about|than|like|and)\b)[^.!?;]){0,40}?"
        r"\b(?:a|an|the)\s+((?:[a-z-]+\s+){0,2}[a-z]+)\b",
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


def _known_place(fragment: str) -> str | None:
    """The longest gazetteer place at the start of `fragment`."""
    words = re.sub(r"[^a-z .'-]", " ", fragment.lower()).split()
    for size in range(min(4, len(words)), 0, -1):
        candidate = " ".join(words[:size]).strip(".,' ")
        if candidate in CITIES or candidate in US_STATES or candidate in COUNTRIES:
            return candidate
    return None


def _location_names(location: str) -> set[str]:
    """Every name the persona's location can be called: city, state, country."""
    names = {part.strip().lower() for part in location.split(",") if part.strip()}
    for name in list(names):
        if name in CITIES:
            names.add(CITIES[name])
    if names & (US_STATES | _US_NAMES) or any(CITIES.get(n) in US_STATES for n in names):
        names |= _US_NAMES
    return names


def stated_places(text: str) -> list[str]:
    return [place for m in _PLACE_CUES.finditer(text) if (place := _known_place(m["place"]))]


def _normalise_tier(word: str) -> str:
    w = word.lower().replace(" ", "-").replace("sub-prime", "subprime").replace("superprime", "super-prime")
    w = w.replace("nearprime", "near-prime").replace("deep-sub-prime", "deep-subprime")
    return w


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


_ADJECTIVE_TIERS = {
    "excellent": {"super-prime", "prime"},
    "great": {"super-prime", "prime"},
    "perfect": {"super-prime"},
    "good": {"prime", "super-prime"},
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
        r"\bcredit\s+score\s+(?:is\s+|of\s+)?(?:around\s+|about\s+|roughly\s+)?(\d{3})\b|"
        r"\b(\d{3})\s+credit(?:\s+score)?\b",
        low,
    ):
        score = int(m[1] or m[2])
        if 300 <= score <= 850:
            found.append(tiers_for_score(score))
    for m in re.finditer(r"\b(deep[\s-]?sub[\s-]?prime|super[\s-]?prime|near[\s-]?prime|sub[\s-]?prime|prime)\b", low):
        before = low[max(0, m.start() - 40) : m.start()]
        if re.search(r"\b(?:i'm|i’m|i\s+am|my|i\s+have|i\s+fall|i\s+sit|i'd\s+be|considered)\b", before):
            found.append({_normalise_tier(m[1])})
    for m in re.finditer(
        r"\b(?:my\s+credit(?:\s+score)?\s+is\s+(?:pretty\s+|really\s+|very\s+)?(\w+)|"
        r"i(?:\s+have|'ve|\s+got|'ve\s+got)\s+(?:an?\s+)?(?:pretty\s+|really\s+|very\s+)?(\w+)\s+credit)\b",
        low,
    ):
        adjective = m[1] or m[2]
        if adjective in _ADJECTIVE_TIERS:
            found.append(_ADJECTIVE_TIERS[adjective])
    return found


def check_persona_facts(reply: str, facts: dict[str, str]) -> FactCheck:
    """Compare what `reply` states in the first person with `facts`
    ({age_band, gender, location, credit_tier}; missing facts are not checked)."""
    check = FactCheck()
    if facts.get("age_band"):
        lo, hi = parse_age_band(facts["age_band"])
        for a, b in stated_ages(reply):
            check.stated.append(f"age {a}-{b}")
            if b < lo or a > hi:
                check.violations.append(f"age {a}-{b} outside {facts['age_band']}")
    if facts.get("gender"):
        want = facts["gender"].strip().lower()
        for gender in stated_genders(reply):
            check.stated.append(f"gender {gender}")
            if gender != want:
                check.violations.append(f"gender {gender} but persona is {want}")
    if facts.get("location"):
        names = _location_names(facts["location"])
        for place in stated_places(reply):
            check.stated.append(f"place {place}")
            home = CITIES.get(place, place)
            if place not in names and home not in names:
                check.violations.append(f"place {place} but persona lives in {facts['location']}")
    if facts.get("credit_tier"):
        want = _normalise_tier(facts["credit_tier"])
        for tiers in stated_credit(reply):
            check.stated.append("credit " + "/".join(sorted(tiers)))
            if want not in tiers:
                check.violations.append(f"credit {'/'.join(sorted(tiers))} but persona is {want}")
    return check


_AI_DISCLAIMER = re.compile(
    r"\b(?:as an ai|i(?:'m| am) an? (?:ai|artificial intelligence|language model|"
    r"large language model|chatbot|virtual assistant)|i am not a real person|"
    r"i(?:'m| am) just an? (?:ai|program|bot))\b",
    re.IGNORECASE,
)


def breaks_character(reply: str) -> bool:
    """The reply says it is an AI/model instead of answering as the persona."""
    return bool(_AI_DISCLAIMER.search(reply))


def persona_fact_metrics(reply: str, facts: dict[str, str]) -> dict[str, float]:
    check = check_persona_facts(reply, facts)
    return {
        "fact_consistent": 1.0 if check.consistent else 0.0,
        "in_character": 0.0 if breaks_character(reply) else 1.0,
        "nonempty": 1.0 if reply.strip() else 0.0,
    }
