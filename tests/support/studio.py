"""Helpers for the studio API tests: users, tokens, personas and uploads through the API."""

from __future__ import annotations

from contextlib import asynccontextmanager

from store.users import create_user
from use_cases.studio.security import hash_password

PASSWORD = "correct horse battery"
_HASH: str | None = None


async def make_user(services, username: str, role: str) -> str:
    global _HASH
    _HASH = _HASH or hash_password(PASSWORD)
    row = await create_user(services.pool, username=username, password_hash=_HASH, role=role)
    return row["id"]


async def login(client, username: str, password: str = PASSWORD) -> dict[str, str]:
    r = await client.post("/studio/auth/token", data={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


async def user_with_token(services, client, username: str, role: str) -> tuple[str, dict[str, str]]:
    uid = await make_user(services, username, role)
    return uid, await login(client, username)


async def build(client, headers, creator_id: str, name: str = "Offie", **extra) -> str:
    r = await client.post(
        "/studio/personas/build", headers=headers, json={"persona_name": name, "creator_id": creator_id, **extra}
    )
    assert r.status_code == 200, r.text
    return r.json()["persona_id"]


async def upload(
    client,
    headers,
    collection: str,
    file_name: str,
    data: bytes | str,
    content_type: str = "text/markdown",
    path: str | None = None,
):
    body = data.encode() if isinstance(data, str) else data
    return await client.post(
        f"/studio/collections/{collection}/documents",
        headers=headers,
        files={"file": (file_name, body, content_type)},
        data={"path": path} if path else None,
    )


@asynccontextmanager
async def extra_app(settings, embeddings, **overrides):
    """Another app instance (its own services and pool) on the test's database, with settings
    overrides; yields (app, client). Its lifespan runs, as under uvicorn."""
    from runtime.services import Services
    from server.app import create_app
    from tests.conftest import app_client

    svc = Services.create(settings.model_copy(update=overrides))
    svc.embeddings = embeddings
    app = create_app(svc.settings, services=svc, start_model=False, start_embeddings=False)
    async with app_client(app) as client:
        yield app, client
