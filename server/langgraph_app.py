"""The HTTP app that `langgraph dev` (LangGraph Studio's server) runs beside the graphs of
langgraph.json (its `http.app`).

It adds no routes. The graphs start the shared services on their first run
(`runtime.services.ensure_services`); this app's lifespan stops them when the dev server stops
or reloads, so the embedded Postgres and the local model server do not outlive it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette

from runtime.services import stop_current_services


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    try:
        yield
    finally:
        await stop_current_services()


app = Starlette(lifespan=lifespan)
