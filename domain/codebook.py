"""A survey's codebook read into a drafted `record-schema/v1`: the labels, question wordings,
answer orders and column roles that the cells alone cannot tell.

Survey data usually ships with a codebook. The common JSON shapes are read: a mapping of column
name to entry, either at the top level or under ``"columns"`` (keys starting with ``_`` are
metadata), or a list of entries that carry their column's ``name``. An entry's fields are
recognised by their usual names:

- label: ``label``, ``short_label``, ``description``, ``title``;
- question: ``question``, ``question_text``, ``wording``, ``text`` (a column whose role is
  ``question`` and that has no wording is asked by its label);
- answer options, in the survey's order: ``values``, ``options``, ``answer_options``,
  ``levels``, ``categories`` (a list of strings, or of objects with a ``label``);
- value codes, for a table that holds codes instead of answers: the options as objects with a
  ``code`` (or ``value``, ``id``, ``key``) and a ``label``, or as a mapping of code to label
  (``{"1": "Male", "2": "Female"}``). The column's cells are then read as their labels, and a
  gender column found that way becomes the schema's gender;
- role: ``role`` or ``use``: ``weight``, ``id``, ``ignore``; anything else is a profile column;
- type: ``ordinal`` (or ``ordered: true``) makes the options an order, lowest first.

The cells decide what a column can be: options the table never uses are kept (a survey lists
every answer), but a cell that is not among the options keeps the draft's values, with a note.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from domain.schema_draft import GENDER_NAME, GENDER_WORDS

_LABEL_KEYS = ("label", "short_label", "description", "title")
_QUESTION_KEYS = ("question", "question_text", "wording", "text")
_VALUE_KEYS = ("values", "options", "answer_options", "levels", "categories")
_ID_ROLES = {"id", "identifier", "record_id", "key"}
_WEIGHT_ROLES = {"weight", "weights", "survey_weight"}
_IGNORE_ROLES = {"ignore", "ignored", "skip", "drop", "admin", "administrative"}
_CODE_KEYS = ("code", "value", "id", "key")
MAX_LABEL = 200
MAX_QUESTION = 1000


class CodebookError(ValueError):
    """The codebook cannot be read as one; the message says what is wrong with it."""


def codebook_entries(codebook: Any) -> dict[str, Mapping[str, Any]]:
    """{column: entry} from any of the codebook shapes the module docstring lists."""
    body = codebook.get("columns", codebook) if isinstance(codebook, Mapping) else codebook
    if isinstance(body, Mapping):
        entries = {str(k): v for k, v in body.items() if not str(k).startswith("_")}
    elif isinstance(body, list):
        entries = {}
        for position, entry in enumerate(body):
            name = entry.get("name") or entry.get("column") if isinstance(entry, Mapping) else None
            if not name:
                raise CodebookError(f"codebook entry {position} names no column (give it a 'name')")
            entries[str(name)] = entry
    else:
        raise CodebookError("a codebook is a JSON object of columns, or a list of entries with a 'name'")
    bad = [name for name, entry in entries.items() if not isinstance(entry, Mapping)]
    if bad:
        raise CodebookError(f"codebook entry for column {bad[0]!r} must be an object")
    return entries


def _text(entry: Mapping[str, Any], keys: Sequence[str], limit: int) -> str | None:
    for key in keys:
        value = entry.get(key)
        if isinstance(value, str) and value.strip():
            return " ".join(value.split())[:limit]
    return None


def _options(entry: Mapping[str, Any]) -> list[str] | None:
    for key in _VALUE_KEYS:
        value = entry.get(key)
        if isinstance(value, list) and value:
            options = [str(o.get("label", "")) if isinstance(o, Mapping) else str(o) for o in value]
            options = [o.strip() for o in options if o is not None and str(o).strip()]
            if options and len(set(options)) == len(options):
                return options
    return None


def _coded_options(entry: Mapping[str, Any]) -> tuple[list[str], dict[str, str]] | None:
    """The labels, in order, and {code: label} when the entry's options carry codes."""
    for key in _VALUE_KEYS:
        value = entry.get(key)
        codes: dict[str, str] = {}
        if isinstance(value, Mapping):
            codes = {str(code).strip(): str(label).strip() for code, label in value.items() if str(label).strip()}
        elif isinstance(value, list) and value and all(isinstance(o, Mapping) for o in value):
            for option in value:
                code = next((option[k] for k in _CODE_KEYS if option.get(k) is not None), None)
                label = str(option.get("label") or "").strip()
                if code is None or not label:
                    codes = {}
                    break
                codes[str(code).strip()] = label
        labels = list(dict.fromkeys(codes.values()))
        if codes and len(labels) == len(codes):
            return labels, codes
    return None


def _role(entry: Mapping[str, Any]) -> str:
    role = str(entry.get("role") or entry.get("use") or "").strip().lower()
    if role in _ID_ROLES:
        return "id"
    if role in _WEIGHT_ROLES:
        return "weight"
    if role in _IGNORE_ROLES:
        return "ignore"
    return "question" if role == "question" else "profile"


def _names_genders(spec: Mapping[str, Any]) -> bool:
    return bool(spec.get("codes")) and bool({str(v).lower() for v in spec.get("values") or []} & GENDER_WORDS)


def _is_ordinal(entry: Mapping[str, Any]) -> bool:
    return str(entry.get("type", "")).lower() in ("ordinal", "ordered") or entry.get("ordered") is True


def apply_codebook(
    schema: Mapping[str, Any], codebook: Any, cells: Mapping[str, Sequence[str | None]]
) -> tuple[dict[str, Any], list[str]]:
    """``schema`` (a draft) with what ``codebook`` says of each column, and a note per change
    worth checking. ``cells`` are the table's columns, to check options against."""
    entries = codebook_entries(codebook)
    out: dict[str, Any] = {k: v for k, v in schema.items() if k != "columns"}
    columns: dict[str, dict[str, Any]] = {name: dict(spec) for name, spec in schema.get("columns", {}).items()}
    notes: list[str] = []
    unknown = [name for name in entries if name not in columns and name not in (out.get("id"), out.get("weight"))]
    if unknown:
        shown = ", ".join(unknown[:5]) + (", ..." if len(unknown) > 5 else "")
        notes.append(f"codebook: {len(unknown)} column(s) not in the table, skipped: {shown}")
    for name, entry in entries.items():
        role = _role(entry)
        if role in ("id", "weight"):
            if out.get(role) != name:
                notes.append(f"{role}: '{name}', as the codebook says")
            out[role] = name
            columns.pop(name, None)
            continue
        spec = columns.get(name)
        if spec is None:
            continue
        label = _text(entry, _LABEL_KEYS, MAX_LABEL)
        if label:
            spec["label"] = label
        question = _text(entry, _QUESTION_KEYS, MAX_QUESTION) or (label if role == "question" else None)
        if question:
            spec["question"] = question
        if role == "ignore":
            spec["use"] = "ignore"
        _apply_options(name, spec, entry, cells.get(name, ()), notes)
    if out.get("gender") is None:
        gender = next((n for n, s in columns.items() if GENDER_NAME.search(n) and _names_genders(s)), None)
        if gender is not None:
            out["gender"] = gender
            notes.append(f"gender: '{gender}', its codes read as the codebook's answers")
    for role in ("gender", "age"):
        chosen = out.get(role)
        if chosen is not None and (chosen not in columns or columns[chosen].get("use") == "ignore"):
            out.pop(role)
            notes.append(f"{role}: '{chosen}' is not a profile column after the codebook; set it if needed")
    out["columns"] = columns
    return out, notes


def _apply_options(
    name: str, spec: dict[str, Any], entry: Mapping[str, Any], cells: Sequence[str | None], notes: list[str]
) -> None:
    used = {c.strip() for c in cells if c is not None and c.strip()}
    coded = _coded_options(entry)
    if coded is not None and used and used <= set(coded[1]) and not used <= set(coded[0]):
        labels, codes = coded
        if spec.get("type") == "text" and _role(entry) != "ignore":
            spec.pop("use", None)  # drafted as free text for its many codes, which the codebook names
        spec.update(type="ordinal" if _is_ordinal(entry) else "category", values=labels, codes=codes)
        shown = ", ".join(f"{c} = {a}" for c, a in list(codes.items())[:3])
        notes.append(f"{name}: the cells are codes, read as the codebook's answers ({shown}, ...)")
        return
    options = _options(entry)
    if options is None or spec.get("type") not in ("category", "ordinal"):
        return
    missing = sorted(used - set(options))
    if missing:
        notes.append(
            f"{name}: the table has value(s) the codebook does not list ({', '.join(missing[:3])}); "
            "kept the table's values"
        )
        return
    spec["values"] = options
    if _is_ordinal(entry) and spec["type"] != "ordinal":
        spec["type"] = "ordinal"
        notes.append(f"{name}: ordinal, in the codebook's order")
