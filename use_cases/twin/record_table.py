"""Read a table of people (CSV or Parquet) and check it against its `record-schema/v1`.

Every cell is read as text and parsed by its column's type, so a bad cell stops the whole
read with one sentence naming the column, the row and the value: nothing partial is built."""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from domain.record_schema import RecordSchema, parse_cell
from runtime.errors import ConfigError

MAX_ERRORS_SHOWN = 5


@dataclass(frozen=True)
class Record:
    """One person: their id, survey weight and parsed profile values (None: unknown)."""

    record_id: str
    weight: float
    values: dict[str, str | float | bool | None]


@dataclass
class RecordTable:
    schema: RecordSchema
    records: list[Record]
    notes: list[str] = field(default_factory=list)


DELIMITERS = ",;\t|"


def delimiter_of(first_line: str) -> str:
    """The delimiter a CSV export uses, read off its header line (quotes respected): comma,
    semicolon (spreadsheets in comma-decimal locales), tab or bar; a comma when it cannot tell."""
    try:
        return csv.Sniffer().sniff(first_line, delimiters=DELIMITERS).delimiter
    except csv.Error:
        return ","


def _first_line(path: Path) -> str:
    with path.open(encoding="utf-8-sig", errors="replace") as fh:
        return fh.readline()


def read_header(path: Path) -> list[str]:
    """The table's column names, without reading its rows."""
    import pandas as pd

    if not path.exists():
        raise ConfigError(f"Record file {path} does not exist.")
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            import pyarrow.parquet as pq

            return list(pq.read_schema(path).names)
        frame = pd.read_csv(path, nrows=0, dtype=str, encoding="utf-8-sig", sep=delimiter_of(_first_line(path)))
        return [str(name) for name in frame.columns]
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path.name} is not a readable table: {str(exc).rstrip('.')}.") from None


def read_columns(path: Path) -> dict[str, list[str | None]]:
    """The file's cells as text by column (None for an empty cell)."""
    import pandas as pd

    if not path.exists():
        raise ConfigError(f"Record file {path} does not exist.")
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            frame = pd.read_parquet(path).astype("string")
        else:
            sep = delimiter_of(_first_line(path))
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig", sep=sep)
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path.name} is not UTF-8 text ({exc.reason} at byte {exc.start}).") from None
    except (ValueError, OSError) as exc:
        raise ConfigError(f"{path.name} is not a readable table: {str(exc).rstrip('.')}.") from None
    return _cells(frame, path.name)


def read_csv_text(text: str, name: str) -> dict[str, list[str | None]]:
    """The cells of a CSV table given as text (a request's field, `name`) by column, as `read_columns`."""
    import pandas as pd

    try:
        text = text.removeprefix("\ufeff")
        sep = delimiter_of(text.split("\n", 1)[0])
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, sep=sep)
    except (ValueError, csv.Error) as exc:
        raise ConfigError(f"{name} is not a readable CSV table: {str(exc).strip().rstrip('.')}.") from None
    return _cells(frame, name)


def _cells(frame: Any, name: str) -> dict[str, list[str | None]]:
    columns: dict[str, list[str | None]] = {}
    for column in frame.columns:
        cells = [None if v is None or (isinstance(v, float) and math.isnan(v)) else str(v) for v in frame[column]]
        columns[str(column)] = [c if c is not None and c.strip() else None for c in cells]
    if not columns or not next(iter(columns.values()), []):
        raise ConfigError(f"{name} has no rows.")
    return columns


def _read_json(path: Path, what: str = "") -> Any:
    """The JSON in ``path``; a ConfigError naming ``what`` (e.g. "the codebook ") when it cannot be read."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"Cannot read {what}{path}: {exc.strerror or exc}.") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        named = what[:1].upper() + what[1:] + path.name
        raise ConfigError(f"{named} is not valid JSON: {exc}.") from None


def load_schema(path: Path) -> RecordSchema:
    return parse_schema(_read_json(path), path.name)


def parse_schema(data: Any, where: str = "the schema") -> RecordSchema:
    try:
        return RecordSchema.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        location = ".".join(str(part) for part in first.get("loc", ())) or "the schema"
        raise ConfigError(f"{where}: {location}: {first['msg'].rstrip('.')}.") from None


def check_table(columns: dict[str, list[str | None]], schema: RecordSchema) -> RecordTable:
    """Parse every row; the first bad cells are named in one error."""
    missing = [name for name in schema.required_columns() if name not in columns]
    if missing:
        raise ConfigError(f"The record file lacks the schema's column(s): {', '.join(missing)}.")
    extra = [name for name in columns if name not in schema.columns and name not in (schema.id, schema.weight)]
    notes = [f"column '{name}' is not in the schema: ignored" for name in extra]
    rows = len(next(iter(columns.values())))
    errors: list[str] = []
    records: list[Record] = []
    seen_ids: dict[str, int] = {}
    profile = schema.profile_columns()
    for index in range(rows):
        line = index + 2  # the header is line 1 of a CSV file
        record_id = _record_id(columns, schema, index, line, seen_ids, errors)
        weight = _weight(columns, schema, index, line, errors)
        values: dict[str, str | float | bool | None] = {}
        for name in profile:
            raw = columns[name][index]
            try:
                values[name] = parse_cell(schema.columns[name], raw)
            except ValueError as exc:
                errors.append(f"column '{name}', row {index + 1} (line {line}): {raw!r}: {exc}")
        records.append(Record(record_id=record_id, weight=weight, values=values))
        if len(errors) >= MAX_ERRORS_SHOWN:
            break
    if errors:
        raise ConfigError("The record file does not fit its schema: " + "; ".join(errors[:MAX_ERRORS_SHOWN]) + ".")
    return RecordTable(schema=schema, records=records, notes=notes)


def _record_id(
    columns: dict[str, list[str | None]],
    schema: RecordSchema,
    index: int,
    line: int,
    seen: dict[str, int],
    errors: list[str],
) -> str:
    if schema.id is None:
        return str(index + 1)
    value = (columns[schema.id][index] or "").strip()
    if not value:
        errors.append(f"column '{schema.id}' (the id), row {index + 1} (line {line}): empty")
    elif value in seen:
        errors.append(
            f"column '{schema.id}' (the id), row {index + 1} (line {line}): {value!r} repeats row {seen[value]}"
        )
    else:
        seen[value] = index + 1
    return value


def _weight(
    columns: dict[str, list[str | None]], schema: RecordSchema, index: int, line: int, errors: list[str]
) -> float:
    if schema.weight is None:
        return 1.0
    raw = columns[schema.weight][index]
    try:
        weight = float((raw or "").replace(",", ""))
    except ValueError:
        weight = math.nan
    if not math.isfinite(weight) or weight < 0:
        shown = "an empty cell" if raw is None or not raw.strip() else repr(raw)
        errors.append(
            f"column '{schema.weight}' (the weight), row {index + 1} (line {line}): {shown}: expected a number >= 0"
            + (" (write 0 to leave the record out)" if shown == "an empty cell" else "")
        )
        return 0.0
    return weight


def draft_table_schema(columns: dict[str, list[str | None]], codebook: Path | None = None) -> tuple[dict, list[str]]:
    """A schema drafted from the cells, completed by the survey's codebook when one is given;
    a note per guess for the user to check."""
    from domain.codebook import CodebookError, apply_codebook
    from domain.schema_draft import draft_schema

    drafted, notes = draft_schema(columns)
    if codebook is None:
        return drafted, notes
    book = _read_json(codebook, "the codebook ")
    try:
        completed, book_notes = apply_codebook(drafted, book, columns)
    except CodebookError as exc:
        raise ConfigError(f"The codebook {codebook.name}: {exc}.") from None
    kept = [n for n in notes if not n.startswith("labels are the column names")]
    return completed, kept + book_notes


def read_record_table(records: Path, schema: Path | None = None, codebook: Path | None = None) -> RecordTable:
    """The checked table; without a schema file, the drafted one (completed by the codebook, when
    given; its guesses become notes)."""
    columns = read_columns(records)
    if schema is not None:
        return check_table(columns, load_schema(schema))
    drafted, notes = draft_table_schema(columns, codebook)
    table = check_table(columns, parse_schema(drafted, "the drafted schema"))
    table.notes = [f"no --schema: {note}" for note in notes] + table.notes
    return table
