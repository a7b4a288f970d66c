import pytest
from fastapi import APIRouter, FastAPI

from server.app import create_app
from server.mounts import MountCollisionError, RestMount, include_mounts
from tests.conftest import app_client


def _router(path: str) -> APIRouter:
    router = APIRouter()

    @router.get(path)
    def handler() -> dict:
        return {"path": path}

    return router


def test_colliding_mounts_stop_start_up():
    app = FastAPI()
    with pytest.raises(MountCollisionError, match="both claim GET /personas/list"):
        include_mounts(app, [RestMount("studio", _router("/personas/list"), ""),
                             RestMount("ghostwriter", _router("/personas/list"), "/")])


def test_same_paths_under_different_prefixes_coexist():
    app = FastAPI()
    include_mounts(app, [RestMount("studio", _router("/personas/list"), "/studio"),
                         RestMount("ghostwriter", _router("/personas/list"), "ghostwriter/")])
    paths = set(app.openapi()["paths"])
    assert {"/studio/personas/list", "/ghostwriter/personas/list"} <= paths


def test_mount_colliding_with_service_route():
    app = FastAPI()
    app.include_router(_router("/health"))
    with pytest.raises(MountCollisionError, match="the service"):
        include_mounts(app, [RestMount("twin", _router("/health"), "")])


async def test_health_ok_then_503_when_database_down(services):
    app = create_app(services.settings, services=services)
    async with app_client(app) as client:
        ok = await client.get("/health")
        assert ok.status_code == 200
        body = ok.json()
        assert body["status"] == "ok"
        assert body["checks"]["embeddings"]["detail"] == "ok (384 dims)"
        await services.pool.close()
        down = await client.get("/health")
        assert down.status_code == 503
        assert down.json()["checks"]["database"]["ok"] is False


async def test_openapi_lists_graph_routes(client):
    spec = (await client.get("/openapi.json")).json()
    assert "/graphs/persona_chat/invoke" in spec["paths"]
    assert "/health" in spec["paths"]
