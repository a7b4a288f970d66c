"""How a twin's gender and age band read in a sentence. A table without a gender (or an age)
column makes twins whose gender (or age band) is `UNKNOWN`: the sentence then leaves it out
rather than guess."""

from __future__ import annotations

UNKNOWN = "Unknown"


def known(value: str | None) -> bool:
    return bool(value) and value != UNKNOWN


def person_phrase(age_band: str | None, gender: str | None, noun: str = "person") -> str:
    """ "a 25 - 34-year-old female", "a female", "a 25 - 34-year-old person", "a person"."""
    age = f"{age_band}-year-old " if known(age_band) else ""
    who = str(gender).lower() if known(gender) else noun
    return f"a {age}{who}"
