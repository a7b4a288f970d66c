"""Persona-fact consistency and character, scored with the product's own checker.

The chat's guard (`graphs/persona_chat/fact_guard.py`) enforces what
`graphs/persona_chat/facts.py` finds; the evals score replies with the same functions, so
what the product enforces and what the evals measure cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graphs.persona_chat.facts import (
    FactCheck,
    check_reply_facts,
    normalise_facts,
    parse_age_band,
    stated_ages,
    stated_genders,
    stated_places,
    tiers_for_score,
)
from graphs.persona_chat.facts import breaks_character as character_breaks

__all__ = [
    "FactCheck",
    "breaks_character",
    "check_persona_facts",
    "parse_age_band",
    "persona_fact_metrics",
    "stated_ages",
    "stated_genders",
    "stated_places",
    "tiers_for_score",
]


def check_persona_facts(reply: str, facts: Mapping[str, Any], profile: str = "") -> FactCheck:
    """What `reply` states in the first person against `facts` (a data set row's, a twin's record
    or a studio persona's declared facts; missing facts are not checked)."""
    return check_reply_facts(reply, normalise_facts(facts), profile)


def breaks_character(reply: str, profile: str = "") -> bool:
    """The reply talks as an assistant or AI instead of as the persona."""
    return bool(character_breaks(reply, profile))


def persona_fact_metrics(reply: str, facts: Mapping[str, Any], profile: str = "") -> dict[str, float]:
    check = check_persona_facts(reply, facts, profile)
    return {
        "fact_consistent": 1.0 if check.consistent else 0.0,
        "in_character": 1.0 if check.in_character else 0.0,
        "nonempty": 1.0 if reply.strip() else 0.0,
    }
