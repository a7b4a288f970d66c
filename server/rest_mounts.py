"""The three REST adapters and their configured prefixes, and the OpenAI-compatible mount at /v1."""

from __future__ import annotations

from fastapi import FastAPI

from runtime.settings import Settings
from server.ghostwriter.api import router as ghostwriter_router
from server.mounts import RestMount, check_collisions
from server.openai_compat.api import router as openai_router
from server.studio.api import router as studio_router
from server.twin.api import router as twin_router


def rest_mounts(settings: Settings) -> list[RestMount]:
    return [
        RestMount("twin", twin_router, settings.twin_prefix),
        RestMount("studio", studio_router, settings.studio_prefix),
        RestMount("ghostwriter", ghostwriter_router, settings.ghostwriter_prefix),
        # fixed: OpenAI clients take a base URL ending in /v1
        RestMount("openai", openai_router, "/v1"),
    ]


def check_rest_mounts(settings: Settings) -> None:
    """The mount collision check on its own (the mounts, /health and the docs routes), so
    `personas serve` stops before the slow start-up; `create_app` checks again with the
    graph routes included."""
    from server.health import router as health_router

    app = FastAPI()
    app.include_router(health_router)
    check_collisions(app, rest_mounts(settings))
