"""Draft a `record-schema/v1` from a table's cells: each column's type, values and role guessed,
with a note for every guess, for the user to read and correct before building twins."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from domain.record_schema import FALSE_WORDS, FORMAT, TRUE_WORDS

MAX_CATEGORIES = 40  # more distinct values than this (and not numbers) is free text
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")
_LEADING_NUMBER = re.compile(r"\$?\s*(-?\d[\d,]*(?:\.\d+)?)")
_ID_NAME = re.compile(r"(^|_)(id|caseid|case_id|respondent|record_id|uuid)($|_)|^id", re.I)
_WEIGHT_NAME = re.compile(r"weight|wgt|(^|_)wt|wt($|_|\d)", re.I)  # weight_full, finalwt, wtssall
_NOT_WEIGHT = re.compile(r"kg|lb|pound|body|bmi|birth|height", re.I)  # a person's weight is a fact
GENDER_NAME = re.compile(r"(^|_)(gender|sex)($|_)", re.I)
_AGE_NAME = re.compile(r"(^|_)age(a|s|_?years?|\d*)?($|_)", re.I)
_BELOW = re.compile(r"\s*(under|less than|below|fewer than|up to)\b", re.I)
GENDER_WORDS = {"f", "m", "female", "male", "woman", "man", "women", "men"}


def _present(values: Sequence[str | None]) -> list[str]:
    return [v.strip() for v in values if v is not None and v.strip()]


def _is_number(text: str) -> bool:
    return _NUMBER.fullmatch(text) is not None


def _label(name: str) -> str:
    words = re.sub(r"[_\-.]+", " ", name).strip()
    return words[:1].upper() + words[1:] if words else name


def _ordered_if_graded(values: list[str]) -> list[str] | None:
    """Values that are all numbers or ranges ("18-24", "$25,000-$49,999", "75+", "Under $5,000"),
    in the order of their numbers; None when any value has none."""
    keys = []
    for value in values:
        match = _LEADING_NUMBER.match(value) or re.search(r"(\d[\d,]*(?:\.\d+)?)", value)
        if match is None:
            return None
        below = _BELOW.match(value) is not None  # "Under $5,000" comes before "$5,000-$9,999"
        keys.append(float(match.group(1).replace(",", "")) - (0.5 if below else 0.0))
    if len(set(keys)) != len(keys):
        return None
    return [v for _, v in sorted(zip(keys, values, strict=True))]


def _column(name: str, cells: Sequence[str | None], rows: int) -> tuple[dict[str, Any], str]:
    present = _present(cells)
    counts = Counter(present)
    distinct = list(counts)
    if not present:
        return {"type": "text", "label": _label(name), "use": "ignore"}, "every cell is empty: ignored"
    lowered = {v.lower() for v in distinct}
    if len(distinct) <= 2 and lowered <= (TRUE_WORDS | FALSE_WORDS) and lowered & TRUE_WORDS:
        return {"type": "boolean", "label": _label(name)}, "yes/no values: boolean"
    if all(_is_number(v) for v in distinct) and len(distinct) > 2:
        return {"type": "number", "label": _label(name)}, f"{len(distinct)} distinct numbers: number"
    if len(distinct) > MAX_CATEGORIES and len(distinct) > math.sqrt(rows):
        return {"type": "text", "label": _label(name), "use": "ignore"}, (
            f"{len(distinct)} distinct values: free text, ignored (set use to profile to keep it)"
        )
    graded = _ordered_if_graded(distinct)
    if graded is not None and len(graded) > 2:
        return {"type": "ordinal", "label": _label(name), "values": graded}, (
            f"{len(graded)} values that start with numbers: ordinal in that order (check it)"
        )
    by_frequency = [v for v, _ in counts.most_common()]
    return {"type": "category", "label": _label(name), "values": by_frequency}, (
        f"{len(by_frequency)} values: category (if they have an order, make it ordinal and order them)"
    )


def _role(columns: Mapping[str, Sequence[str | None]], pattern: re.Pattern[str], check: Any) -> str | None:
    for name, cells in columns.items():
        if pattern.search(name) and check(_present(cells)):
            return name
    return None


def draft_schema(columns: Mapping[str, Sequence[str | None]]) -> tuple[dict[str, Any], list[str]]:
    """A schema for a table given as {column: cells}, and one note per guess it made."""
    rows = max((len(cells) for cells in columns.values()), default=0)
    notes: list[str] = []
    schema: dict[str, Any] = {"format": FORMAT}
    record_id = _role(
        columns, _ID_NAME, lambda present: len(present) == rows and len(set(present)) == len(present) and rows > 0
    )
    weight = _role(
        {name: cells for name, cells in columns.items() if not _NOT_WEIGHT.search(name)},
        _WEIGHT_NAME,
        lambda present: bool(present) and all(_is_number(v) and float(v) >= 0 for v in present),
    )
    gender = _role(columns, GENDER_NAME, lambda present: bool(present) and {v.lower() for v in present} & GENDER_WORDS)
    age = _role(columns, _AGE_NAME, lambda present: bool(present))
    for role, name in (("id", record_id), ("weight", weight), ("gender", gender), ("age", age)):
        if name is not None:
            schema[role] = name
            notes.append(f"{role}: guessed '{name}' from its name and values")
        else:
            notes.append(f"{role}: no column found; set it if the table has one")
    described: dict[str, Any] = {}
    for name, cells in columns.items():
        if name in (record_id, weight):
            continue
        spec, note = _column(name, cells, rows)
        if name in (gender, age) and spec.get("use") == "ignore":
            spec.pop("use")
            spec["type"] = "number" if name == age and spec["type"] == "number" else "category"
        described[name] = spec
        notes.append(f"{name}: {note}")
    schema["columns"] = described
    notes.append("labels are the column names: write a short label and the question each column answers")
    return schema, notes
