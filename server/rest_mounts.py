"""The three REST adapters and their configured prefixes."""

from __future__ import annotations

from runtime.settings import Settings
from server.ghostwriter.api import router as ghostwriter_router
from server.mounts import RestMount
from server.studio.api import router as studio_router
from server.twin.api import router as twin_router


def rest_mounts(settings: Settings) -> list[RestMount]:
    return [
        RestMount("twin", twin_router, settings.twin_prefix),
        RestMount("studio", studio_router, settings.studio_prefix),
        RestMount("ghostwriter", ghostwriter_router, settings.ghostwriter_prefix),
    ]
