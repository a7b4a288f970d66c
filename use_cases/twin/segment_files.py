"""Segment sets from files: cluster a record table (CSV or Parquet) into one, read one saved as
JSON, or save one. A file that cannot be used raises `ConfigError` with one sentence naming the
file (and the row or column where it can), before anything reaches the database."""

from __future__ import annotations

import asyncio
import csv
import json
from collections.abc import Callable
from pathlib import Path

from runtime.errors import ConfigError
from use_cases.twin.segments.model import SegmentSet

Progress = Callable[[str], None]


def _sentence(message: str, *, capitalise: bool = True) -> str:
    """A library message ("record file x.csv is missing ...") as one sentence."""
    message = message.strip()
    if capitalise and message[:1].islower():
        message = message[0].upper() + message[1:]
    return message if message.endswith((".", "!", "?")) else message + "."


async def build_from_records(path: Path, clusters: int, seed: int, progress: Progress) -> SegmentSet:
    """Cluster the record table at `path` into `clusters` segments (deterministic for a seed)."""
    # imported here: scikit-learn takes a while to load, and only building needs it
    from use_cases.twin.segments.build import build_segments
    from use_cases.twin.segments.records import load_records

    try:
        records = await asyncio.to_thread(load_records, path)
        progress(f"{len(records)} records")
        return await asyncio.to_thread(build_segments, records, clusters, seed, progress)
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path.name} is not UTF-8 text ({exc.reason} at byte {exc.start}).") from None
    except ValueError as exc:  # missing columns, a bad value (row and column named), too few records
        raise ConfigError(_sentence(str(exc))) from None
    except csv.Error as exc:  # e.g. a field over the csv module's size limit
        raise ConfigError(_sentence(f"{path.name} is not a readable CSV file: {exc}", capitalise=False)) from None
    except OSError as exc:
        raise ConfigError(f"Cannot read {path}: {exc.strerror or exc}.") from None


def is_demo_table(path: Path) -> bool:
    """The table has the demo consumer table's columns (its tuned build path applies)."""
    from use_cases.twin.record_table import read_header
    from use_cases.twin.segments.records import REQUIRED_COLUMNS

    return set(REQUIRED_COLUMNS) <= set(read_header(path))


async def build_from_table(
    path: Path, schema: Path | None, clusters: int, seed: int, progress: Progress, codebook: Path | None = None
) -> SegmentSet:
    """Cluster any table of people with its `record-schema/v1` (drafted, with the `codebook`
    when given, when `schema` is None; the guesses are reported through `progress`)."""
    from use_cases.twin.record_table import read_record_table
    from use_cases.twin.segments.table_build import build_table_segments

    table = await asyncio.to_thread(read_record_table, path, schema, codebook)
    for note in table.notes:
        progress(f"note: {note}")
    progress(f"{len(table.records)} records, {len(table.schema.profile_columns())} profile columns")
    try:
        return await asyncio.to_thread(build_table_segments, table, clusters, seed, progress)
    except ValueError as exc:
        raise ConfigError(_sentence(str(exc))) from None


def write_segment_set(segments: SegmentSet, path: str | Path) -> None:
    """Save `segments` as JSON (`segment-set/v1`), importable later."""
    try:
        Path(path).write_text(segments.to_json(), encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"Cannot write {path}: {exc.strerror or exc}.") from None


def read_segment_set(path: Path) -> SegmentSet:
    """A segment set saved as JSON (`segment-set/v1`, see `use_cases.twin.segments.model`)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"Cannot read {path}: {exc.strerror or exc}.") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path.name} is not UTF-8 text ({exc.reason} at byte {exc.start}).") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{path.name} is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})."
        ) from None
    try:
        return SegmentSet.from_dict(data)
    except ValueError as exc:
        raise ConfigError(_sentence(f"{path.name} is not a valid segment set: {exc}", capitalise=False)) from None
