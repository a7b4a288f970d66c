"""`personas twin ...`: build segment twins from a record table, import them from JSON,
or load the bundled demo set. Each re-run replaces the twins atomically."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from runtime.settings import get_settings
from services.twin.segments.model import SegmentSet


def _say(message: str) -> None:
    print(f"  {message}", flush=True)


async def _store(segments: SegmentSet) -> int:
    from runtime.services import Services
    from services.twin.segment_import import replace_segments

    services = await Services.acreate(get_settings())
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
    from services.twin.segment_files import build_from_records, write_segment_set

    path = Path(args.records)
    print(f"Reading {path}...", flush=True)
    segments = await build_from_records(path, args.clusters, args.seed, _say)
    if args.out:
        await asyncio.to_thread(write_segment_set, segments, args.out)
        _say(f"wrote {args.out}")
    return await _store(segments)


async def _import(args: argparse.Namespace) -> int:
    from services.twin.segment_files import read_segment_set

    path = Path(args.file)
    print(f"Reading {path}...", flush=True)
    segments = await asyncio.to_thread(read_segment_set, path)
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
