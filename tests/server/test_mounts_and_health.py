import pytest
from fastapi import APIRouter, FastAPI

from runtime.errors import ConfigError
from runtime.settings import Settings
from server.app import create_app
from server.mounts import MountCollisionError, RestMount, include_mounts, route_shape
from server.rest_mounts import check_rest_mounts, rest_mounts
from tests.conftest import app_client
from tests.support.stub_server import LoopbackServer, StubHandler


def _router(*paths: str, method: str = "GET") -> APIRouter:
    router = APIRouter()
    for path in paths:

        def handler() -> dict:
            return {}

        router.add_api_route(path, handler, methods=[method])
    return router


def test_colliding_mounts_stop_start_up():
    app = FastAPI()
    with pytest.raises(MountCollisionError, match="both claim GET /personas/list"):
        include_mounts(
            app,
            [
                RestMount("studio", _router("/personas/list"), ""),
                RestMount("ghostwriter", _router("/personas/list"), "/"),
            ],
        )


def test_same_paths_under_different_prefixes_coexist():
    app = FastAPI()
    include_mounts(
        app,
        [
            RestMount("studio", _router("/personas/list"), "/studio"),
            RestMount("ghostwriter", _router("/personas/list"), "ghostwriter/"),
        ],
    )
    paths = set(app.openapi()["paths"])
    assert {"/studio/personas/list", "/ghostwriter/personas/list"} <= paths


def test_paths_differing_only_in_parameter_names_collide():
    app = FastAPI()
    with pytest.raises(MountCollisionError) as info:
        include_mounts(
            app,
            [
                RestMount("studio", _router("/personas/{persona_id}/chat", method="POST"), ""),
                RestMount("ghostwriter", _router("/personas/{account_id}/chat", method="POST"), ""),
            ],
        )
    message = str(info.value)
    assert "The ghostwriter API and the studio API both claim POST /personas/{account_id}/chat" in message
    assert "(the studio API as /personas/{persona_id}/chat)" in message
    assert "STUDIO_PREFIX or GHOSTWRITER_PREFIX" in message
    assert isinstance(info.value, ConfigError)


def test_route_shapes():
    assert route_shape("/personas/{persona_id}/chat") == route_shape("/personas/{ account_id }/chat")
    assert route_shape("/a/{x:str}") == route_shape("/a/{y}") == "/a/{}"
    assert route_shape("/docs/{p:path}") == route_shape("/docs/{q:path}") == "/docs/{:path}"
    assert route_shape("/docs/{p:path}") != route_shape("/docs/{p}")
    assert route_shape("/personas/owned") != route_shape("/personas/{id}")


def test_path_converters_collide_by_shape():
    app = FastAPI()
    with pytest.raises(MountCollisionError, match="DELETE /files/{doc:path}"):
        include_mounts(
            app,
            [
                RestMount("studio", _router("/files/{path:path}", method="DELETE"), ""),
                RestMount("ghostwriter", _router("/files/{doc:path}", method="DELETE"), ""),
            ],
        )


def test_static_and_parameter_paths_are_not_a_collision():
    # Within one API: a FastAPI pattern (the static route is declared first).
    app = FastAPI()
    include_mounts(
        app, [RestMount("studio", _router("/personas/owned", "/personas/{persona_id}", "/personas/{other}"), "")]
    )
    # Across APIs: only the same method and the same shape collide.
    app = FastAPI()
    include_mounts(
        app,
        [
            RestMount("studio", _router("/personas/owned"), ""),
            RestMount("ghostwriter", _router("/personas/{account_id}"), ""),
            RestMount("twin", _router("/personas/{account_id}", method="POST"), ""),
        ],
    )


def test_real_mounts_with_both_prefixes_empty_collide():
    settings = Settings(_env_file=None, studio_prefix="", ghostwriter_prefix="")
    with pytest.raises(MountCollisionError) as info:
        check_rest_mounts(settings)
    message = str(info.value)
    assert "ghostwriter API" in message and "studio API" in message
    assert "POST /personas/{account_id}/chat" in message and "/personas/{persona_id}/chat" in message
    with pytest.raises(MountCollisionError):
        include_mounts(FastAPI(), rest_mounts(settings))


def test_real_mounts_with_default_prefixes_are_fine():
    settings = Settings(_env_file=None)
    check_rest_mounts(settings)
    app = FastAPI()
    include_mounts(app, rest_mounts(settings))
    paths = set(app.openapi()["paths"])
    assert {
        "/studio/personas/{persona_id}/chat",
        "/ghostwriter/personas/{account_id}/chat",
        "/twin/persona/{persona_id}/chat",
    } <= paths
    # One API at the root is fine too.
    check_rest_mounts(Settings(_env_file=None, ghostwriter_prefix=""))


def test_mount_colliding_with_service_route():
    app = FastAPI()
    app.include_router(_router("/health"))
    with pytest.raises(MountCollisionError, match="the service both claim GET /health; choose another TWIN_PREFIX"):
        include_mounts(app, [RestMount("twin", _router("/health"), "")])


def test_routes_of_included_sub_routers_are_claimed():
    outer = APIRouter()
    outer.include_router(_router("/items/{item_id}", method="PUT"), prefix="/v1")
    with pytest.raises(MountCollisionError, match=r"both claim PUT /api/v1/items/\{id\}"):
        include_mounts(
            FastAPI(),
            [
                RestMount("studio", outer, "/api"),
                RestMount("ghostwriter", _router("/v1/items/{id}", method="PUT"), "api"),
            ],
        )


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


async def test_rest_apis_are_tried_before_the_graph_routes(services):
    # Starlette tries routes in order: a REST call must not first be compared with every
    # LangServe route; both still answer their own paths
    from server.ghostwriter.api import router as ghostwriter_router
    from server.studio.api import router as studio_router
    from server.twin.api import router as twin_router

    app = create_app(services.settings, services=services, start_model=False, start_embeddings=False)
    routes = app.router.routes
    first_graph = next(i for i, route in enumerate(routes) if getattr(route, "path", "").startswith("/graphs/"))
    ahead = [getattr(route, "original_router", None) for route in routes[:first_graph]]
    assert all(router in ahead for router in (twin_router, studio_router, ghostwriter_router))
    async with app_client(app) as client:
        assert (await client.get("/graphs/persona_chat/input_schema")).status_code != 404
        assert (await client.get("/ghostwriter/personas/list")).status_code == 403  # the route, asking for its key
        assert (await client.get("/nowhere")).status_code == 404


class _ModelsStub(LoopbackServer):
    """A loopback OpenAI-compatible /v1/models that answers `status` and records the key."""

    def __init__(self, status: int) -> None:
        self.keys: list[str] = []
        stub = self

        class Handler(StubHandler):
            def do_GET(self):  # noqa: N802
                stub.keys.append(self.headers.get("Authorization", ""))
                body = b'{"object": "list", "data": [{"id": "gpt-4.1", "object": "model"}]}'
                self.send_json(status if self.path == "/v1/models" else 404, body)

        super().__init__(Handler)
        self.url += "/v1"


async def test_health_probes_an_openai_compatible_model(services):
    from pydantic import SecretStr

    from runtime.local_llm import free_port

    healthy, rejecting = _ModelsStub(200), _ModelsStub(401)
    try:
        cases = [
            (healthy.url, 200, "ok"),
            (rejecting.url, 503, "provider answered 401"),
            (f"http://127.0.0.1:{free_port()}/v1", 503, "provider unreachable (ConnectError)"),
        ]
        services.settings.chat_model = "openai:gpt-4.1"
        services.settings.openai_api_key = SecretStr("sk-test")
        app = create_app(services.settings, services=services, start_model=False, start_embeddings=False)
        async with app_client(app) as client:
            for base_url, status, detail in cases:
                services.settings.openai_base_url = base_url
                r = await client.get("/health")
                again = await client.get("/health")  # answered from the 30 s cache
                assert r.status_code == status, r.text
                assert r.json()["checks"]["model"] == {"ok": status == 200, "detail": detail}
                assert again.json() == r.json()
        assert healthy.keys == ["Bearer sk-test"] and rejecting.keys == ["Bearer sk-test"]
    finally:
        healthy.close()
        rejecting.close()
