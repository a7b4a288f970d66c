"""`record-schema/v1`: what each column of a table of people is, so any survey or CRM export can
become twins. Pure rules, no I/O: reading a file is `use_cases.twin.record_table`.

    {"format": "record-schema/v1",
     "id": "caseid", "weight": "weight_full", "gender": "gender", "age": "age_group",
     "columns": {"pid_x": {"type": "ordinal", "label": "Party ID",
                            "question": "Generally speaking, do you think of yourself as ...?",
                            "values": ["Strong Democrat", "...", "Strong Republican"],
                            "use": "profile"}}}

A value is checked against its column's type (and `values`, when given); an empty cell is
unknown, never a value. `id` and `weight` name columns that need no entry in `columns`;
`gender` and `age` name profile columns.
"""

from __future__ import annotations

import math
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

FORMAT = "record-schema/v1"
ColumnType = Literal["category", "ordinal", "number", "boolean", "text"]
TRUE_WORDS = frozenset({"true", "yes", "y", "1", "t"})
FALSE_WORDS = frozenset({"false", "no", "n", "0", "f"})
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_UNSIGNED = re.compile(r"\d+(?:\.\d+)?")


class ColumnSpec(BaseModel):
    """One column: its type, how prompts name it, the question it answers, its values."""

    model_config = ConfigDict(extra="forbid")

    type: ColumnType
    label: str = Field(min_length=1, max_length=200)
    question: str | None = Field(default=None, max_length=1000)
    values: list[str] | None = None
    codes: dict[str, str] | None = None
    """A coded export's codes, each to the answer it stands for ({"1": "Male", "2": "Female"}):
    a cell holding a code is read as that answer."""
    use: Literal["profile", "ignore"] = "profile"

    @property
    def asked(self) -> str:
        """How the column is put to a twin: its question, else its label."""
        return self.question or self.label

    @field_validator("values")
    @classmethod
    def _distinct_values(cls, values: list[str] | None) -> list[str] | None:
        if values is not None:
            if not values:
                raise ValueError("values must list at least one value (or be left out)")
            if len(set(values)) != len(values):
                raise ValueError("values must be distinct")
        return values

    @model_validator(mode="after")
    def _ordinal_needs_its_order(self) -> ColumnSpec:
        if self.type == "ordinal" and not self.values:
            raise ValueError("an ordinal column lists its values, lowest first")
        if self.type in ("number", "text", "boolean") and self.values:
            raise ValueError(f"a {self.type} column takes no values list")
        if self.codes is not None:
            if self.type in ("number", "text"):
                raise ValueError(f"a {self.type} column takes no codes")
            unknown = sorted({a for a in self.codes.values() if self.values is not None and a not in self.values})
            if unknown:
                raise ValueError(f"codes name answers that values does not list: {', '.join(map(repr, unknown[:3]))}")
        return self


class RecordSchema(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    format: Literal["record-schema/v1"]
    id: str | None = None
    weight: str | None = None
    gender: str | None = None
    age: str | None = None
    columns: dict[str, ColumnSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _roles_name_columns(self) -> RecordSchema:
        for role in ("gender", "age"):
            name = getattr(self, role)
            if name is not None:
                spec = self.columns.get(name)
                if spec is None or spec.use != "profile":
                    raise ValueError(f"{role} names {name!r}, which must be a profile column of 'columns'")
        if self.age is not None and self.columns[self.age].type not in ("number", "ordinal", "category"):
            raise ValueError("the age column must be a number (years) or ordinal/category age groups")
        for role in ("id", "weight"):
            name = getattr(self, role)
            if name is not None and name in self.columns and self.columns[name].use == "profile":
                raise ValueError(f"the {role} column {name!r} is bookkeeping: give it use 'ignore' or leave it out")
        if not self.profile_columns():
            raise ValueError("no column has use 'profile'")
        return self

    def profile_columns(self) -> list[str]:
        return [name for name, spec in self.columns.items() if spec.use == "profile"]

    def required_columns(self) -> list[str]:
        """Every column the table must have: the described ones and the id and weight."""
        named = [self.id, self.weight]
        return list(self.columns) + [n for n in named if n is not None and n not in self.columns]


class CellError(ValueError):
    """A cell does not fit its column; the message names the column, the row and the value."""


def parse_cell(spec: ColumnSpec, raw: Any) -> str | float | bool | None:
    """The cell's value for its column's type; None for an empty cell. Raises ValueError."""
    if raw is None or (isinstance(raw, float) and math.isnan(raw)):
        return None
    text = str(raw).strip()
    if not text:
        return None
    if spec.codes is not None:
        text = spec.codes.get(text, text)
    if spec.type == "number":
        value = float(text.replace(",", "")) if _NUMBER.fullmatch(text.replace(",", "")) else math.nan
        if not math.isfinite(value):
            raise ValueError("expected a number")
        return value
    if spec.type == "boolean":
        lowered = text.lower()
        if lowered in TRUE_WORDS:
            return True
        if lowered in FALSE_WORDS:
            return False
        raise ValueError("expected a yes/no value (true, false, yes, no, 1, 0)")
    if spec.values is not None and text not in spec.values:
        shown = ", ".join(repr(v) for v in spec.values[:8]) + (", ..." if len(spec.values) > 8 else "")
        raise ValueError(f"expected one of {shown}")
    return text


def age_in_years(value: str | float | bool | None) -> float | None:
    """Years from an age cell: a number, or the middle of a group such as "65-69" or "75+"."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, float):
        return value
    numbers = [float(n) for n in _UNSIGNED.findall(value.replace(",", ""))][:2]  # "55-59" is a range
    if not numbers:
        return None
    return sum(numbers) / len(numbers)


def gender_of(value: str | float | bool | None) -> str | None:
    """ "Female" or "Male" from a gender cell ("F", "woman", "Male" ...); None for anything else."""
    if not isinstance(value, str):
        return None
    word = value.strip().lower()
    if word in ("f", "female", "woman", "women", "girl"):
        return "Female"
    if word in ("m", "male", "man", "men", "boy"):
        return "Male"
    return None


def describe(spec: ColumnSpec, value: str | float | bool) -> str:
    """One plain sentence of a fact for a prompt: the question and the answer, or label: value."""
    shown = ("yes" if value else "no") if isinstance(value, bool) else _number(value)
    if spec.question:
        return f'Asked "{spec.question}", you answer: {shown}.'
    return f"{spec.label}: {shown}."


def _number(value: str | float) -> str:
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else f"{value:g}"
    return value


# Words of answer scales: an answer made of them says how much, not what about.
_SCALE_WORDS = frozenset(
    "yes no not strongly strong somewhat slightly very much more less better worse same approve disapprove "
    "agree disagree favor oppose support opposition increased decreased kept about neither nor good bad "
    "always often sometimes rarely never high low medium moderate extremely fairly quite a little lot "
    "the of to".split()
)
# Answers that are no answer: they say nothing about the person either.
_NON_ANSWER_WORDS = frozenset("don't dont know refused dk na n/a answer asked inapplicable skipped unsure".split())


def names_something(value: str) -> bool:
    """Whether an answer names something ("Mitt Romney", "Rent") rather than only saying how
    much or whether ("Strongly agree", "Decreased", "yes")."""
    words = [w.strip(".,;()").lower().replace("\u2019", "'") for w in value.split()]
    return any(w and w not in _SCALE_WORDS and w not in _NON_ANSWER_WORDS and not w.isdigit() for w in words)
