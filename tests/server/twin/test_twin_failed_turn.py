"""A failed twin turn (model error, crash mid-turn) leaves no trace in the session's memory, and
its 502 names no internals."""

from __future__ import annotations

import pytest
from langchain_core.messages import HumanMessage

from tests.support.twin import cluster_key, small_segments
from use_cases.twin.segment_import import replace_segments
from use_cases.twin.segments.model import SegmentSet


@pytest.fixture
async def twins(services):
    segments = small_segments()
    await replace_segments(services.pool, segments, services.embeddings)
    return segments


def _cluster_id(twins: SegmentSet) -> int:
    return cluster_key(twins, "Sub-Prime Auto-Heavy Millennials")


async def test_a_failed_twin_turn_leaves_no_trace_and_names_no_internals(client, twins: SegmentSet, script):
    pid = (await client.get(f"/twin/cluster/{_cluster_id(twins)}/personas")).json()[0]["persona_id"]
    script.responder = lambda messages: "I live in the South."
    first = await client.post(f"/twin/persona/{pid}/chat", json={"message": "Where do you reside?"})
    assert first.status_code == 200
    session = first.json()["session_id"]

    def fail(messages):
        raise ConnectionError("provider down")

    script.responder = fail
    r = await client.post(
        f"/twin/persona/{pid}/chat", json={"message": "What is my secret word?", "session_id": session}
    )
    assert r.status_code == 502
    assert r.json() == {"detail": "The chat model failed to answer; try again later."}
    assert "Error" not in r.text
    script.responder = lambda messages: "Sure."
    r = await client.post(f"/twin/persona/{pid}/chat", json={"message": "Tell me more.", "session_id": session})
    assert r.status_code == 200
    # the next turn sees the first exchange, not the failed message
    assert [m.content for m in script.calls[-1] if isinstance(m, HumanMessage)] == [
        "Where do you reside?",
        "Tell me more.",
    ]
