"""Focus groups of segment twins: one open question, answers in character, themes with quotes;
as one result, or as a stream of progress events and each answer as it arrives."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

from graphs.focus_group.context import FocusGroupContext
from graphs.focus_group.graph import FocusGroupGraph
from graphs.focus_group.state import FocusGroupInput, FocusGroupOutput
from runtime.errors import ServiceError
from runtime.services import Services
from runtime.upstream import MODEL_FAILED, raise_as_upstream_failure

log = logging.getLogger(__name__)


async def focus_group_events(
    services: Services, graph: FocusGroupGraph, request: FocusGroupInput, model: str, *, max_concurrency: int = 0
) -> AsyncIterator[dict[str, Any]]:
    """The run as events: `progress` (stage `selected` with the clusters and the number of
    answers expected, then `themes`), one `response` per answer as it arrives (with `done` and
    `total`), and last `result` (the whole focus group). Errors raise: ServiceErrors as they are,
    a failing model as a 502."""
    context = FocusGroupContext(services=services, model=model, max_concurrency=max_concurrency)
    total, done = 0, 0
    try:
        async for update in graph.astream(request, context=context, stream_mode="updates"):
            for node, values in update.items():
                if node == "select_participants":
                    total = len(values.get("participants") or [])
                    yield {
                        "type": "progress",
                        "stage": "selected",
                        "clusters": values.get("surveyed") or [],
                        "done": 0,
                        "total": total,
                    }
                elif node == "respond":
                    for record in values.get("responses") or []:
                        done += 1
                        yield {"type": "response", **record, "done": done, "total": total}
                    if done == total:
                        yield {"type": "progress", "stage": "themes", "done": done, "total": total}
                elif node == "find_themes":
                    yield {"type": "result", "result": {"question": values["question"], "clusters": values["clusters"]}}
    except Exception as exc:
        raise_as_upstream_failure(exc, MODEL_FAILED)


async def run_focus_group(
    services: Services, graph: FocusGroupGraph, request: FocusGroupInput, model: str, *, max_concurrency: int = 0
) -> FocusGroupOutput:
    """The whole focus group at once."""
    async for event in focus_group_events(services, graph, request, model, max_concurrency=max_concurrency):
        if event["type"] == "result":
            result = event["result"]
            return FocusGroupOutput(question=result["question"], clusters=result["clusters"])
    raise ServiceError(MODEL_FAILED, status=502)
