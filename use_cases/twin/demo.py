"""The bundled demo segment twins, loaded on a first start."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from store.twin import ImportSummary, count_clusters, first_load_lock
from use_cases.twin.segment_import import replace_segments

if TYPE_CHECKING:
    from runtime.services import Services

log = logging.getLogger(__name__)


async def ensure_demo_twins(services: Services) -> ImportSummary | None:
    """Load the bundled demo set when no clusters exist yet (first start); else do nothing.

    Off when `settings.twin_demo_autoload` is false.
    """
    if not getattr(services.settings, "twin_demo_autoload", True):
        return None
    if await count_clusters(services.pool) > 0:
        return None
    from use_cases.twin.segments.demo import demo_segments

    segments = demo_segments()
    async with first_load_lock(services.pool) as taken:
        if not taken:
            return None
        if await count_clusters(services.pool) > 0:
            return None
        result = await replace_segments(services.pool, segments, services.require_embeddings())
    log.info("loaded the demo segment twins: %d clusters, %d personas", result.clusters, result.personas)
    return result
