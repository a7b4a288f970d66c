"""Personas of a cluster: pick a real member record for each slot of the pattern and
describe it in its own words.

Each slot (gender, age band) takes the cluster member of that gender and band nearest
to the cluster centre. When the cluster has nobody left there, the nearest member of
that gender (else anyone) whose age is closest to the band is used, and its age is
moved into the band; such personas carry ``age_adjusted: true``.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import numpy as np

from use_cases.twin.segments.model import AGE_BAND_LIMITS, BAND_GENERATION, PERSONA_PATTERN, SegmentPersonaSpec

FEMALE_NAMES = (
    "Olivia",
    "Emma",
    "Charlotte",
    "Amelia",
    "Sophia",
    "Mia",
    "Isabella",
    "Ava",
    "Evelyn",
    "Harper",
    "Luna",
    "Camila",
    "Gianna",
    "Elizabeth",
    "Eleanor",
    "Ella",
    "Abigail",
    "Sofia",
    "Avery",
    "Scarlett",
    "Emily",
    "Aria",
    "Penelope",
    "Chloe",
    "Layla",
    "Mila",
    "Nora",
    "Hazel",
    "Madison",
    "Ellie",
)
MALE_NAMES = (
    "Liam",
    "Noah",
    "Oliver",
    "James",
    "Elijah",
    "William",
    "Henry",
    "Lucas",
    "Benjamin",
    "Theodore",
    "Mateo",
    "Levi",
    "Sebastian",
    "Daniel",
    "Jack",
    "Michael",
    "Alexander",
    "Owen",
    "Asher",
    "Samuel",
    "Ethan",
    "Leo",
    "Jackson",
    "Mason",
    "Ezra",
    "John",
    "Hudson",
    "Luca",
    "Aiden",
    "Joseph",
)
# For twins whose table has no gender column.
NEUTRAL_NAMES = (
    "Alex",
    "Avery",
    "Bailey",
    "Blake",
    "Cameron",
    "Casey",
    "Charlie",
    "Dakota",
    "Drew",
    "Emerson",
    "Finley",
    "Hayden",
    "Jamie",
    "Jesse",
    "Jordan",
    "Kendall",
    "Logan",
    "Morgan",
    "Parker",
    "Peyton",
    "Quinn",
    "Reese",
    "Riley",
    "Robin",
    "Rowan",
    "Sage",
    "Sam",
    "Skyler",
    "Taylor",
    "Harper",
)
STATE_NAMES = {
    "NY": "New York",
    "PA": "Pennsylvania",
    "MA": "Massachusetts",
    "NJ": "New Jersey",
    "CT": "Connecticut",
    "IL": "Illinois",
    "OH": "Ohio",
    "MI": "Michigan",
    "WI": "Wisconsin",
    "MN": "Minnesota",
    "MO": "Missouri",
    "IN": "Indiana",
    "IA": "Iowa",
    "TX": "Texas",
    "FL": "Florida",
    "GA": "Georgia",
    "NC": "North Carolina",
    "VA": "Virginia",
    "TN": "Tennessee",
    "AL": "Alabama",
    "LA": "Louisiana",
    "CA": "California",
    "WA": "Washington",
    "AZ": "Arizona",
    "CO": "Colorado",
    "OR": "Oregon",
    "NV": "Nevada",
    "UT": "Utah",
}
_HOUSEHOLD_PHRASES = {
    "Single": "a single-person household",
    "Couple": "a couple household",
    "Family with children": "a family household with children",
    "Single parent": "a single-parent household",
    "Multi-generational": "a multi-generational household",
}
_EDUCATION_PHRASES = {
    "High school or less": "a high school education",
    "Some college": "some college education",
    "Bachelor's degree": "a bachelor's degree",
    "Graduate degree": "a graduate degree",
}
_OLDEST_PERSONA = 89  # ages moved into "75+" stay below this


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _age_in_band(age: int, band: str) -> int:
    """``age`` itself when it is in ``band``, else the nearest age inside it (the smallest move)."""
    lo, hi = AGE_BAND_LIMITS[band]
    return min(max(age, lo), min(hi, _OLDEST_PERSONA))


# attribute groups a summary can leave out (a fidelity eval holds one fact out of the profile)
SUMMARY_FACTS = (
    "place",
    "household",
    "education",
    "income",
    "net_worth",
    "credit",
    "auto_loans",
    "spend",
    "home",
    "giving",
)


def persona_summary(a: dict[str, Any], omit: Collection[str] = ()) -> str:
    """Summary written only from the persona's own attributes (its age, its numbers); the facts
    named in `omit` (of :data:`SUMMARY_FACTS`) are left out."""
    female = a["gender"] == "Female"
    she, her = ("She", "her") if female else ("He", "his")
    noun = "woman" if female else "man"
    ethnicity = a["ethnicity"] if a["ethnicity"] not in ("Other", "Unknown", "") else ""
    who = " ".join(w for w in (f"A {a['age']}-year-old", ethnicity, noun) if w)
    place = STATE_NAMES.get(a["state"], a["state"])
    loans = a["open_auto_loans"]
    auto = (
        f"has {loans} open auto loan{'s' if loans != 1 else ''} with ${a['auto_loan_balance']:,} owed"
        if loans
        else "has no auto loans"
    )
    giving = (
        f"gives ${a['political_giving']:,} a year to political causes"
        if a["political_giving"]
        else "does not give to political causes"
    )
    first = [who + ("" if "place" in omit else f" living in {place} ({a['region']}, {a['country']})")]
    if "household" not in omit:
        first.append(f"in {_HOUSEHOLD_PHRASES.get(a['household'], a['household'])}")
    if "education" not in omit:
        first.append(f"with {_EDUCATION_PHRASES.get(a['education'], a['education'])}")
    money = []
    if "income" not in omit:
        money.append(f"earns {a['income_band']} a year")
    if "net_worth" not in omit:
        money.append(f"is in the {_ordinal(a['net_worth_decile'])} net worth decile")
    credit = (
        ""
        if "credit" in omit
        else f" {her.capitalize()} credit is {a['credit_tier']} ({_ordinal(a['credit_quartile'])} quartile) with "
        f"{a['credit_usage']} credit usage and a {a['equity_balance']} equity balance."
    )
    last = []
    if "auto_loans" not in omit:
        last.append(auto)
    if "spend" not in omit:
        last.append(f"spends about ${a['discretionary_spend']:,} a year on discretionary purchases")
    if "home" not in omit:
        last.append(f"{'owns' if a['homeowner'] else 'rents'} {her} home")
    if "giving" not in omit:
        last.append(giving)
    text = ", ".join(first) + "."
    if money:
        text += f" {she} {' and '.join(money)}."
    text += credit
    if last:
        text += f" {she} {_join(last)}."
    return text


def _join(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def persona_attributes(record: dict[str, Any], band: str) -> dict[str, Any]:
    age = _age_in_band(record["age"], band)
    attrs = dict(record)
    attrs.update(age=age, age_band=band, generation=BAND_GENERATION[band], age_adjusted=age != record["age"])
    return attrs


def build_personas(
    cluster_key: int,
    members: list[dict[str, Any]],
    distances: np.ndarray,
    seed: int,
) -> list[SegmentPersonaSpec]:
    """The 15 personas of :data:`PERSONA_PATTERN` for one cluster; ``distances[i]`` is
    member ``i``'s distance to the cluster centre in feature space."""
    order = sorted(range(len(members)), key=lambda i: (float(distances[i]), members[i]["record_id"]))
    rng = np.random.default_rng([seed, cluster_key])
    names = {"Female": list(rng.permutation(FEMALE_NAMES)), "Male": list(rng.permutation(MALE_NAMES))}
    used: set[int] = set()
    personas: list[SegmentPersonaSpec] = []
    for gender, band in PERSONA_PATTERN:
        lo, hi = AGE_BAND_LIMITS[band]

        # Fallbacks prefer the member whose age needs the smallest move into the band.
        def years_out(i: int, lo: int = lo, hi: int = hi) -> int:
            return max(lo - members[i]["age"], members[i]["age"] - hi, 0)

        pools = (
            [i for i in order if members[i]["gender"] == gender and years_out(i) == 0],
            sorted((i for i in order if members[i]["gender"] == gender), key=years_out),
            sorted(order, key=years_out),
        )
        pick = next((i for pool in pools for i in pool if i not in used), order[0])
        used.add(pick)
        record = dict(members[pick], gender=gender)  # only differs when the cluster lacks that gender
        attrs = persona_attributes(record, band)
        personas.append(
            SegmentPersonaSpec(
                cluster_key=cluster_key,
                name=str(names[gender].pop(0)),
                gender=gender,
                age_band=band,
                summary=persona_summary(attrs),
                attributes=attrs,
            )
        )
    return personas
