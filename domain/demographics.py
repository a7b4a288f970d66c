"""A twin's gender and age band: the values they take, and how they read in a sentence. A table
without a gender (or an age) column makes twins whose gender (or age band) is `UNKNOWN`: the
sentence then leaves it out rather than guess."""

from __future__ import annotations

UNKNOWN = "Unknown"

# The values `segment_personas.gender` and `.age_band` hold (gender is a CHECK constraint), besides
# `UNKNOWN`: the twins of a table that has no gender (or age) column.
GENDERS: tuple[str, ...] = ("Female", "Male")
AGE_BANDS: tuple[str, ...] = ("18 - 24", "25 - 34", "35 - 44", "45 - 54", "55 - 64", "65 - 74", "75+")

# Inclusive age limits of each band; 75+ is capped at 99 for sampling purposes.
AGE_BAND_LIMITS: dict[str, tuple[int, int]] = {
    "18 - 24": (18, 24),
    "25 - 34": (25, 34),
    "35 - 44": (35, 44),
    "45 - 54": (45, 54),
    "55 - 64": (55, 64),
    "65 - 74": (65, 74),
    "75+": (75, 99),
}


def known(value: str | None) -> bool:
    return bool(value) and value != UNKNOWN


def person_phrase(age_band: str | None, gender: str | None, noun: str = "person") -> str:
    """ "a 25 - 34-year-old female", "a female", "a 25 - 34-year-old person", "a person"."""
    age = f"{age_band}-year-old " if known(age_band) else ""
    who = str(gender).lower() if known(gender) else noun
    return f"a {age}{who}"
