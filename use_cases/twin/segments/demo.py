"""The bundled demo segment set.

``demo_segments()`` loads ``demo_segments.json`` (checked in, so start-up needs no
clustering); ``python -m use_cases.twin.segments.demo`` rebuilds that file from the synthetic
records. A test rebuilds it in memory and compares, so the file cannot go stale.
"""

from __future__ import annotations

from pathlib import Path

from use_cases.twin.segments.build import build_segments
from use_cases.twin.segments.model import SegmentSet
from use_cases.twin.segments.records import generate_records

DEMO_RECORDS = 6000
DEMO_SEED = 7
DEMO_CLUSTERS = 12
DEMO_PATH = Path(__file__).with_name("demo_segments.json")


def build_demo_segments() -> SegmentSet:
    """Fresh, deterministic build of the demo set (a few seconds)."""
    return build_segments(generate_records(DEMO_RECORDS, seed=DEMO_SEED), k=DEMO_CLUSTERS, seed=DEMO_SEED)


def demo_segments() -> SegmentSet:
    """The demo set from the checked-in JSON (built fresh if the file is missing)."""
    if DEMO_PATH.exists():
        return SegmentSet.from_json(DEMO_PATH.read_text(encoding="utf-8"))
    return build_demo_segments()


def main() -> None:
    segments = build_demo_segments()
    DEMO_PATH.write_text(segments.to_json(), encoding="utf-8")
    print(f"wrote {DEMO_PATH} ({len(segments.clusters)} clusters, {len(segments.personas)} personas)")


if __name__ == "__main__":
    main()
