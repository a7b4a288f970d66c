"""A small segment set for twin tests: three demo clusters and their 45 personas."""

from __future__ import annotations

from use_cases.twin.segments.demo import demo_segments
from use_cases.twin.segments.model import SegmentSet

SMALL_CLUSTER_NAMES = ("Near-Prime Single Gen Z", "Sub-Prime Auto-Heavy Millennials", "Super-Prime Wealthy Boomers")


def small_segments() -> SegmentSet:
    demo = demo_segments()
    clusters = [c for c in demo.clusters if c.name in SMALL_CLUSTER_NAMES]
    assert len(clusters) == 3, "the demo set no longer has the clusters these tests use"
    keys = {c.key for c in clusters}
    return SegmentSet(clusters=clusters, personas=[p for p in demo.personas if p.cluster_key in keys])


def cluster_key(segments: SegmentSet, name: str) -> int:
    return next(c.key for c in segments.clusters if c.name == name)
