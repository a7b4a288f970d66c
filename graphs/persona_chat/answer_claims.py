"""Replies held to a twin's record answers, whatever the table's columns: a first-person claim of
another answer of the same column ("I'm a Republican" from a twin whose record says "Democrat",
"I voted for Barack Obama" from a Romney voter) is at odds with the record.

The answers come with the twin (`facts["answers"]`: per column its label, the record's value and
the column's other values that name something), written when the twins are built from a table.
Only claims are read: "my brother is a Republican" or "I'm not a Republican" claim nothing, and
a sentence that also says the record's own answer is left alone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

# "I'm a <value>", "I am a strong <value>", "I voted for <value>", "as a <value>", "I support <value>"
_CLAIMS = (
    r"\bi(?:'m| am)\s+(?:an?\s+|the\s+)?(?:[a-z-]+\s+){{0,2}}?{value}s?\b",
    r"\bi(?:'ve| have)?\s*(?:voted|vote|'d vote|would vote|will vote|'ll vote)\s+(?:for\s+)?{value}\b",
    r"\bi\s+(?:support|favou?r|back|identify as|consider myself(?:\s+an?)?)\s+{value}s?\b",
    r"\bas\s+an?\s+{value}\b",
)
_DENIAL = re.compile(r"\b(?:not|never|n't|no longer)\b")


def _claims(sentence: str, value: str) -> bool:
    escaped = re.escape(value.lower())
    for pattern in _CLAIMS:
        for match in re.finditer(pattern.format(value=escaped), sentence):
            if not _DENIAL.search(match[0]):
                return True
    return False


def answer_contradictions(sentence: str, answers: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """(kind, problem) for each record answer that the lower-cased ``sentence`` claims otherwise."""
    out: list[tuple[str, str]] = []
    for column, answer in (answers or {}).items():
        if not isinstance(answer, Mapping):
            continue
        value = str(answer.get("value") or "")
        if not value or value.lower() in sentence:
            continue
        for other in answer.get("others") or []:
            if _claims(sentence, str(other)):
                label = answer.get("label") or column
                out.append(("record", f"you said '{other}', but your record answers {label}: {value}"))
                break
    return out


def answer_statements(answers: Mapping[str, Any] | None, limit: int = 12) -> list[str]:
    """The record answers as short sentences for a rewrite note (the first ``limit``)."""
    return [
        f"{answer.get('label') or column}: {answer.get('value')}"
        for column, answer in list((answers or {}).items())[:limit]
        if isinstance(answer, Mapping)
    ]
