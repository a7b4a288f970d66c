"""The identity half of the fact guard, for a persona of any kind: a reply never gives another
name, never denies having one, and answers "Who are you?" with the persona's own name.

Small models drift here more than anywhere: asked who they are, they answer with a name from
the character's description ("I am Aurora, a goddess of the ocean"), say they have no name, or
describe themselves without one. A draft with such a problem is written again with the name in
the rewrite note; one that still gets it wrong is repaired (`repair_name`): the wrong name is
replaced, or the name is said first.
"""

from __future__ import annotations

import re

_IDENTITY_QUESTION = re.compile(
    r"\bwho\s+(?:are|r)\s+(?:you|u)\b|\bwhat(?:'s|\s+is)\s+your\s+name\b|\byour\s+name\b|"
    r"\btell\s+me\s+(?:a\s+(?:bit|little)\s+)?about\s+yourself\b|\bintroduce\s+yourself\b|"
    r"\bwhat\s+(?:should|do|can|shall)\s+i\s+call\s+you\b|\bwho\s+am\s+i\s+(?:talking|speaking|chatting)\s+(?:to|with)\b",
    re.IGNORECASE,
)
# "My name is X", "call me X", "I'm called X", "the name's X", "I am X, ..." (X capitalised)
_NAME_CLAIMS = (
    re.compile(r"\b[Mm]y\s+name\s+is\s+([A-Z][\w'-]+)"),
    re.compile(r"\b(?:[Cc]all\s+me|[Ii](?:'m|\s+am)\s+(?:called|named))\s+([A-Z][\w'-]+)"),
    re.compile(r"\b[Nn]ame's\s+([A-Z][\w'-]+)"),
    re.compile(
        r"(?:^|[.!?]\s+|\bHi,?\s+|\bHello,?\s+)I(?:'m|\s+am)\s+([A-Z][\w'-]+)(?=\s*[,.!]|\s+(?:and|from|a|an|the|here)\b)"
    ),
)
_DENIALS = re.compile(
    r"\b(?:i\s+(?:have|got)\s+no\s+name|i\s+don't\s+have\s+a\s+name|i\s+do\s+not\s+have\s+a\s+name|"
    r"(?:i'm|i\s+am)\s+(?:a\s+person\s+)?(?:with\s+)?no\s+name|(?:i'm|i\s+am)\s+nobody|i\s+do\s+not\s+exist|"
    r"i\s+don't\s+exist|i\s+am\s+nameless|i'm\s+nameless)\b",
    re.IGNORECASE,
)
# capitalised words that start a sentence after "I'm" without being a name
_NOT_NAMES = frozenset(
    "A An The Here So Just Not Sorry Glad Happy Fine Good Great Okay Ok Well Sure Really Very Always Never "
    "Still Also Only Afraid Excited Curious Currently Actually Honestly Originally Retired Married Single".split()
)


def name_parts(name: str) -> list[str]:
    """The words of a persona's name that identify it (two letters or more)."""
    return [w for w in re.findall(r"[\w'-]+", name) if len(w) >= 2]


def is_identity_question(text: str) -> bool:
    """Whether a user message asks who the persona is ("Who are you?", "What's your name?")."""
    return bool(_IDENTITY_QUESTION.search(text or ""))


def says_name(reply: str, name: str) -> bool:
    low = reply.lower()
    return any(re.search(r"\b" + re.escape(part.lower()) + r"\b", low) for part in name_parts(name))


def claimed_names(reply: str, name: str) -> list[str]:
    """Other names the reply gives itself ("My name is Aurora" from a persona called Aqua)."""
    own = {part.lower() for part in name_parts(name)}
    found: list[str] = []
    for pattern in _NAME_CLAIMS:
        for match in pattern.finditer(reply):
            word = match.group(1).strip("'-")
            if word and word.lower() not in own and word not in _NOT_NAMES and word not in found:
                found.append(word)
    return found


def name_problems(reply: str, name: str, asked: bool) -> list[str]:
    """What the reply gets wrong about the persona's name; empty when nothing (or no name)."""
    if not name_parts(name) or not reply.strip():
        return []
    problems = [f"you called yourself {other}, but your name is {name}" for other in claimed_names(reply, name)]
    if _DENIALS.search(reply):
        problems.append(f"you said you have no name, but your name is {name}")
    if asked and not problems and not says_name(reply, name):
        problems.append(f"you were asked who you are and did not say your name, {name}")
    return problems


def repair_name(reply: str, name: str, asked: bool) -> str:
    """``reply`` with every other name it gives itself replaced by the persona's first name, and,
    when it was asked who it is and still does not say its name, the name said first."""
    first = name_parts(name)[0] if name_parts(name) else name
    repaired = reply
    for other in claimed_names(reply, name):
        repaired = re.sub(r"\b" + re.escape(other) + r"\b", first, repaired)
    repaired = _DENIALS.sub(f"I'm {first}", repaired)
    if asked and not says_name(repaired, name):
        repaired = f"I'm {name}. {repaired.lstrip()}"
    return repaired
