"""Every graph mounted with LangServe at /graphs/<name>."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import FastAPI, Request
from langserve import add_routes

ENDPOINTS = ["invoke", "batch", "stream", "stream_log", "stream_events", "input_schema",
             "output_schema", "config_schema", "config_hashes"]


async def _requested_thread(request: Request) -> str | None:
    """LangServe keeps only the context-schema keys of `configurable`, so the thread id
    is read from the request body itself."""
    try:
        body = await request.json()
    except Exception:
        return None
    config = body.get("config") if isinstance(body, dict) else None
    configurable = config.get("configurable") if isinstance(config, dict) else None
    thread = configurable.get("thread_id") if isinstance(configurable, dict) else None
    return str(thread) if thread else None


async def _ensure_thread(config: dict[str, Any], request: Request) -> dict[str, Any]:
    """A checkpointed graph needs a thread; one-off calls get a fresh one."""
    configurable = dict(config.get("configurable") or {})
    configurable["thread_id"] = await _requested_thread(request) or str(uuid.uuid4())
    return {**config, "configurable": configurable}


def mount_graphs(app: FastAPI, graphs: dict[str, Any], *, playground: bool) -> None:
    for name, graph in graphs.items():
        add_routes(app, graph, path=f"/graphs/{name}", config_keys=["configurable"],
                   enabled_endpoints=ENDPOINTS + (["playground"] if playground else []),
                   per_req_config_modifier=_ensure_thread)
