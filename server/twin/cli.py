"""`personas twin ...`: build segment twins from a record table, import them from JSON,
or load the bundled demo set. Each re-run replaces the twins atomically."""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import sys
from pathlib import Path

from runtime.errors import ConfigError
from runtime.settings import get_settings
from services.twin.segments.model import SegmentSet


def _say(message: str) -> None:
    print(f"  {message}", flush=True)


def _sentence(message: str, *, capitalise: bool = True) -> str:
    """A library message ("record file x.csv is missing ...") as one sentence for the CLI."""
    message = message.strip()
    if capitalise and message[:1].islower():
        message = message[0].upper() + message[1:]
    return message if message.endswith((".", "!", "?")) else message + "."


async def _store(segments: SegmentSet) -> int:
    from runtime.services import Services
    from services.twin.segment_import import replace_segments

    services = Services.create(get_settings())
    try:
        _say("starting the database and the embeddings")
        await services.start(with_model=False, with_embeddings=True)
        result = await replace_segments(services.pool, segments, services.require_embeddings(), progress=_say)
    finally:
        await services.stop()
    ids = f" (persona ids {result.first_persona_id}-{result.last_persona_id})" if result.personas else ""
    print(f"Done: {result.clusters} clusters and {result.personas} personas{ids} replace the previous twins.")
    for cluster in segments.clusters:
        print(f"  cluster {cluster.key}: {cluster.name} ({len(segments.personas_of(cluster.key))} personas)")
    return 0


async def _build(args: argparse.Namespace) -> int:
    from services.twin.segments.build import build_segments
    from services.twin.segments.records import load_records

    path = Path(args.records)
    print(f"Reading {path}...", flush=True)
    try:
        records = load_records(path)
        _say(f"{len(records)} records")
        segments = await asyncio.to_thread(build_segments, records, args.clusters, args.seed, _say)
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path.name} is not UTF-8 text ({exc.reason} at byte {exc.start}).") from None
    except ValueError as exc:  # missing columns, a bad value (row and column named), too few records
        raise ConfigError(_sentence(str(exc))) from None
    except csv.Error as exc:  # e.g. a field over the csv module's size limit
        raise ConfigError(_sentence(f"{path.name} is not a readable CSV file: {exc}", capitalise=False)) from None
    except OSError as exc:
        raise ConfigError(f"Cannot read {path}: {exc.strerror or exc}.") from None
    if args.out:
        try:
            Path(args.out).write_text(segments.to_json(), encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"Cannot write {args.out}: {exc.strerror or exc}.") from None
        _say(f"wrote {args.out}")
    return await _store(segments)


async def _import(args: argparse.Namespace) -> int:
    path = Path(args.file)
    print(f"Reading {path}...", flush=True)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"Cannot read {path}: {exc.strerror or exc}.") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path.name} is not UTF-8 text ({exc.reason} at byte {exc.start}).") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path.name} is not valid JSON ({exc.msg} at line {exc.lineno}, "
                          f"column {exc.colno}).") from None
    try:
        segments = SegmentSet.from_dict(data)
    except ValueError as exc:
        raise ConfigError(_sentence(f"{path.name} is not a valid segment set: {exc}", capitalise=False)) from None
    _say(f"{len(segments.clusters)} clusters, {len(segments.personas)} personas")
    return await _store(segments)


async def _demo(args: argparse.Namespace) -> int:
    from services.twin.segments.demo import demo_segments

    print("Loading the bundled demo segment set...", flush=True)
    return await _store(demo_segments())


def register(subparsers: argparse._SubParsersAction) -> None:
    twin = subparsers.add_parser("twin", help="segment twins: build, import, demo")
    sub = twin.add_subparsers(dest="twin_command", required=True)
    build = sub.add_parser("build", help="cluster a CSV/Parquet record table into segment twins and load them")
    build.add_argument("--records", required=True, help="CSV or Parquet file of consumer records")
    build.add_argument("--clusters", type=int, required=True, help="number of clusters (K)")
    build.add_argument("--seed", type=int, default=7, help="clustering seed (default 7)")
    build.add_argument("--out", help="also write the built set as JSON (importable later)")
    build.set_defaults(run=_build)
    imp = sub.add_parser("import", help="load clusters and personas from a segment-set JSON file")
    imp.add_argument("file")
    imp.set_defaults(run=_import)
    demo = sub.add_parser("demo", help="load the bundled demo clusters and personas")
    demo.set_defaults(run=_demo)


if __name__ == "__main__":  # pragma: no cover
    from server.cli import main

    sys.exit(main(["twin", *sys.argv[1:]]))
