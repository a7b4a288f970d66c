"""Which profile column a closed question asks about, and which option a record's value is.

A survey question matches a column when its wording is the column's question or label (case,
punctuation and spacing aside) and every option is one of the column's values (yes/no for a
boolean column). Such a question is answered from each twin's own record, not by the model."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from domain.record_schema import FALSE_WORDS, TRUE_WORDS, ColumnSpec, RecordSchema

_NOT_WORD = re.compile(r"[^\w$%]+")


def _norm(text: str) -> str:
    return _NOT_WORD.sub(" ", text.lower()).strip()


def _fits(spec: ColumnSpec, options: Sequence[str]) -> bool:
    wanted = {_norm(o) for o in options}
    if spec.type == "boolean":
        return all(o in TRUE_WORDS or o in FALSE_WORDS for o in wanted)
    if spec.values is None or spec.type not in ("category", "ordinal"):
        return False
    return wanted <= {_norm(v) for v in spec.values}


def matching_column(question: str, options: Sequence[str], schema: RecordSchema) -> str | None:
    """The profile column `question` with these `options` asks about, or None."""
    asked = _norm(question)
    for name in schema.profile_columns():
        spec = schema.columns[name]
        wordings = {_norm(text) for text in (spec.question, spec.label) if text}
        if asked in wordings and _fits(spec, options):
            return name
    return None


def record_option(spec: ColumnSpec, value: Any, options: Sequence[str]) -> str | None:
    """The option the record's `value` gives (None: unknown, or not among the options)."""
    if value is None:
        return None
    if isinstance(value, bool):
        words = TRUE_WORDS if value else FALSE_WORDS
        return next((o for o in options if _norm(o) in words), None)
    wanted = _norm(str(value))
    return next((o for o in options if _norm(o) == wanted), None)


def record_answers(question: str, options: Sequence[str], schema: RecordSchema | None) -> tuple[str, ColumnSpec] | None:
    """(column, spec) when the question is answered from the records; None when the model answers."""
    if schema is None:
        return None
    column = matching_column(question, options, schema)
    return (column, schema.columns[column]) if column is not None else None


def answer_of(attributes: Mapping[str, Any], column: str, spec: ColumnSpec, options: Sequence[str]) -> str | None:
    return record_option(spec, attributes.get(column), options)
