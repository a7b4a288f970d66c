"""Every graph mounted with LangServe at /graphs/<name>."""

from __future__ import annotations

import hmac
import ipaddress
import uuid
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Request
from langserve import add_routes
from langserve.server import EndpointName

ENDPOINTS: list[EndpointName] = [
    "invoke",
    "batch",
    "stream",
    "stream_log",
    "stream_events",
    "input_schema",
    "output_schema",
    "config_schema",
    "config_hashes",
]


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


THREAD_NAMESPACE = "graphs:"


async def _ensure_thread(config: dict[str, Any], request: Request) -> dict[str, Any]:
    """A checkpointed graph needs a thread; one-off calls get a fresh one. LangServe threads
    live in their own namespace, so these routes can never read or extend a conversation
    that belongs to a REST API's user."""
    configurable = dict(config.get("configurable") or {})
    requested = await _requested_thread(request) or str(uuid.uuid4())
    configurable["thread_id"] = THREAD_NAMESPACE + requested
    return {**config, "configurable": configurable}


def _from_loopback(request: Request) -> bool:
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def require_graphs_key(request: Request) -> None:
    """When GRAPHS_API_KEY is set, the LangServe routes need it in X-API-Key. Without it they
    answer only loopback clients: they run any persona (a studio persona's documents
    included) with no per-user authorization, so they are a developer's and operator's tool."""
    expected = request.app.state.services.settings.graphs_api_key
    if expected is None:
        if not _from_loopback(request):
            raise HTTPException(
                status_code=403,
                detail="The /graphs routes answer only local clients "
                "unless GRAPHS_API_KEY is set; send it as X-API-Key.",
            )
        return
    given = request.headers.get("x-api-key", "").encode()
    if not hmac.compare_digest(given, expected.get_secret_value().encode()):
        raise HTTPException(status_code=403, detail="Invalid or missing X-API-Key for /graphs")


def mount_graphs(app: FastAPI, graphs: dict[str, Any], *, playground: bool) -> None:
    endpoints = [*ENDPOINTS, "playground"] if playground else ENDPOINTS
    for name, graph in graphs.items():
        add_routes(
            app,
            graph,
            path=f"/graphs/{name}",
            config_keys=["configurable"],
            enabled_endpoints=endpoints,
            per_req_config_modifier=_ensure_thread,
            dependencies=[Depends(require_graphs_key)],
        )
