"""FastAPI app factory: services in the lifespan, /health, LangServe graphs, REST mounts."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from graphs.cluster_router.graph import graph as cluster_router
from graphs.focus_group.graph import graph as focus_group
from graphs.persona_builder.graph import graph as persona_builder
from graphs.persona_chat.graph import build_persona_chat
from graphs.segment_survey.graph import graph as segment_survey
from runtime.services import Services
from runtime.settings import Settings, get_settings
from server.disconnect import CancelOnDisconnect
from server.docs import install_docs
from server.errors import install_error_handlers
from server.graph_routes import mount_graphs
from server.health import router as health_router
from server.mounts import include_mounts
from server.rest_mounts import rest_mounts
from server.validation import install_validation_handler
from use_cases.ghostwriter.batch import recover_jobs, stop_jobs
from use_cases.ghostwriter.budget import drain as drain_settlements
from use_cases.twin.demo import ensure_demo_twins


def freeze_startup_heap() -> None:
    """Keep what start-up built (imported modules, compiled graphs, pools) out of the garbage
    collector's sight: it lives as long as the process, and every full collection would walk its
    hundreds of thousands of objects again, tens of milliseconds in the middle of requests."""
    gc.freeze()


def build_graphs(services: Services) -> dict[str, object]:
    return {
        "persona_chat": build_persona_chat(checkpointer=services.checkpointer),
        "persona_builder": persona_builder,
        "cluster_router": cluster_router,
        "segment_survey": segment_survey,
        "focus_group": focus_group,
    }


def create_app(
    settings: Settings | None = None,
    *,
    services: Services | None = None,
    start_model: bool = True,
    start_embeddings: bool = True,
) -> FastAPI:
    settings = settings or get_settings()
    services = services or Services.create(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await services.start(with_model=start_model, with_embeddings=start_embeddings)
        await ensure_demo_twins(services)
        await recover_jobs(services)
        freeze_startup_heap()
        try:
            yield
        finally:
            await stop_jobs(services)
            await drain_settlements()  # budget settlements still running finish before the pool closes
            await services.stop()

    app = FastAPI(
        title="Persona service",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        description="Segment twins, studio personas and account ghostwriters on LangGraph.",
    )
    install_docs(app)  # /docs and /redoc from packaged assets: they work offline
    app.state.services = services
    install_validation_handler(app)
    app.add_middleware(CancelOnDisconnect)  # inside the error handlers and the request id
    install_error_handlers(app)
    app.state.graphs = build_graphs(services)
    app.include_router(health_router)
    graphs_from = len(app.router.routes)
    mount_graphs(app, app.state.graphs, playground=settings.dev_mode)
    rest_from = len(app.router.routes)
    include_mounts(app, rest_mounts(settings))  # checks collisions with the graph routes too
    # Starlette tries routes in order: the ~130 LangServe routes ahead of the REST APIs cost every
    # REST call about 0.13 ms. No REST route can answer a LangServe path (they all start with a
    # literal segment, and equal shapes were refused above), so the order changes speed only.
    routes = app.router.routes
    routes[graphs_from:] = routes[rest_from:] + routes[graphs_from:rest_from]
    return app
