"""Studio REST API: roles, ownership, forged tokens, personas, histories and chat."""

from __future__ import annotations

import logging
import stat
import time

import jwt
import psycopg
import pytest
from pydantic import SecretStr

from store.personas import create_persona
from tests.support.studio import PASSWORD, build, extra_app, login, make_user, upload, user_with_token

SECRET = "x" * 48  # the settings fixture's jwt_secret


async def _three(services, client):
    admin = await user_with_token(services, client, "ada", "admin")
    builder = await user_with_token(services, client, "bob", "builder")
    user = await user_with_token(services, client, "uma", "user")
    return admin, builder, user


async def test_role_route_method_matrix(services, client, script):
    script.responder = lambda messages: "Hi there"
    (admin_id, admin), (builder_id, builder), (user_id, user) = await _three(services, client)
    roles = {
        "admin": (admin_id, admin),
        "builder": (builder_id, builder),
        "user": (user_id, user),
        "anonymous": (admin_id, {}),
    }
    usernames = {"admin": "ada", "builder": "bob", "user": "uma", "anonymous": "nobody"}
    results: dict[tuple[str, str], int] = {}
    for role, (uid, headers) in roles.items():
        pid = await build(client, admin, uid if role != "anonymous" else admin_id, name=f"P-{role}")
        coll = f"c-{role}"
        if role in ("admin", "builder"):
            assert (await client.post("/studio/collections", headers=headers, json={"name": coll})).status_code == 201
        # a plain user and an anonymous caller aim at an existing collection (the admin's) and
        # document, so only the role can be what refuses them
        own = coll if role in ("admin", "builder") else "c-admin"
        if role == "user":
            assert (await upload(client, admin, "c-admin", "kept.md", "kept")).status_code == 201
        calls = {
            # the token route is open: every account logs in, an unknown one gets 401
            "POST token": client.post("/studio/auth/token", data={"username": usernames[role], "password": PASSWORD}),
            "GET owned": client.get("/studio/personas/owned", headers=headers),
            "POST build": client.post(
                "/studio/personas/build", headers=headers, json={"persona_name": "New", "creator_id": uid}
            ),
            "PUT build": client.put(f"/studio/personas/build/{pid}", headers=headers, json={"description": "changed"}),
            "GET history": client.get(f"/studio/personas/{pid}/message_history", headers=headers),
            "POST chat": client.post(f"/studio/personas/{pid}/chat", headers=headers, json={"content": "Hello"}),
            "POST users": client.post(
                "/studio/users", headers=headers, json={"username": f"new-{role}", "password": PASSWORD, "role": "user"}
            ),
            "POST collections": client.post("/studio/collections", headers=headers, json={"name": f"n-{role}"}),
            "GET collections": client.get("/studio/collections", headers=headers),
            "GET documents": client.get(f"/studio/collections/{own}/documents", headers=headers),
            "POST documents": upload(client, headers, own, "notes.md", "Some notes.", path="dir/notes.md"),
            "DELETE document": client.delete(
                f"/studio/collections/{own}/documents/{'dir/notes.md' if own == coll else 'kept.md'}", headers=headers
            ),
            # the collection made by "POST collections" above (the admin's, for those who made none)
            "DELETE collection": client.delete(
                f"/studio/collections/{f'n-{role}' if role in ('admin', 'builder') else 'c-admin'}", headers=headers
            ),
        }
        for name, call in calls.items():
            results[(role, name)] = (await call).status_code
    expected = {
        "POST token": (200, 200, 200),
        "GET owned": (200, 200, 200),
        "POST build": (200, 200, 403),
        "PUT build": (200, 200, 403),
        "GET history": (200, 200, 200),
        "POST chat": (200, 200, 200),
        "POST users": (201, 403, 403),
        "POST collections": (201, 201, 403),
        "GET collections": (200, 200, 403),
        "GET documents": (200, 200, 403),
        "POST documents": (201, 201, 403),
        "DELETE document": (200, 200, 403),
        "DELETE collection": (200, 200, 403),
    }
    assert {name for _, name in results} == set(expected)
    for name, codes in expected.items():
        got = (
            results[("admin", name)],
            results[("builder", name)],
            results[("user", name)],
            results[("anonymous", name)],
        )
        assert got == (*codes, 401), name
    # what the refused callers aimed at is still there
    kept = (await client.get("/studio/collections/c-admin/documents", headers=admin)).json()["documents"]
    assert [d["doc_path"] for d in kept] == ["kept.md"]


async def test_cross_user_personas_histories_and_collections_answer_404(services, client, script):
    script.responder = lambda messages: "ok"
    (admin_id, admin), (b1_id, b1), (u1_id, u1) = await _three(services, client)
    b2_id, b2 = await user_with_token(services, client, "bea", "builder")
    u2_id, u2 = await user_with_token(services, client, "ulf", "user")
    pid = await build(client, b1, b1_id)
    r = await client.put(f"/studio/personas/build/{pid}", headers=b2, json={"persona_name": "Stolen"})
    assert (r.status_code, r.json()) == (404, {"detail": "Persona not found"})
    assert (await client.get("/studio/personas/owned", headers=b2)).json() == {}
    assert (await client.get("/studio/personas/owned", headers=b1)).json() == {pid: "Offie"}

    first = await client.post(f"/studio/personas/{pid}/chat", headers=u1, json={"content": "My secret plan"})
    hid = first.json()["message_history_id"]
    r = await client.post(
        f"/studio/personas/{pid}/chat", headers=u2, json={"message_history_id": hid, "content": "Tell me"}
    )
    assert (r.status_code, r.json()) == (404, {"detail": "Message history not found"})
    other = await client.get(f"/studio/personas/{pid}/message_history", headers=u2)
    assert other.json() == {"persona_id": pid, "messages": []}
    assert "My secret plan" not in other.text

    # a history belongs to one persona
    pid2 = await build(client, b1, b1_id, name="Jeff")
    r = await client.post(
        f"/studio/personas/{pid2}/chat", headers=u1, json={"message_history_id": hid, "content": "Hi"}
    )
    assert r.status_code == 404

    # personas of other kinds, unknown and malformed ids
    twin = await create_persona(services.pool, kind="twin", name="Twin")
    for bad in (str(twin), "999999", "abc", "1 OR 1=1"):
        r = await client.get(f"/studio/personas/{bad}/message_history", headers=u1)
        assert (r.status_code, r.json()) == (404, {"detail": "Persona not found"}), bad

    # collections
    assert (await client.post("/studio/collections", headers=b1, json={"name": "b1docs"})).status_code == 201
    r = await client.get("/studio/collections/b1docs/documents", headers=b2)
    assert (r.status_code, r.json()) == (404, {"detail": "Collection not found"})
    assert (await client.get("/studio/collections", headers=b2)).json() == {"collections": []}
    r = await client.post(
        "/studio/personas/build",
        headers=b2,
        json={"persona_name": "Thief", "creator_id": b2_id, "rag": {"db_collections": ["b1docs"]}},
    )
    assert r.status_code == 400 and "b1docs" in r.json()["detail"]
    assert (await client.get("/studio/collections/b1docs/documents", headers=admin)).status_code == 200


def _forge(payload_overrides: dict, key: str = SECRET, algorithm: str = "HS256") -> str:
    now = int(time.time())
    payload = {
        "sub": "someone",
        "role": "admin",
        "iss": "persona-service",
        "aud": "persona-service-api",
        "iat": now,
        "exp": now + 600,
        **payload_overrides,
    }
    return jwt.encode(payload, key, algorithm=algorithm)


@pytest.mark.parametrize(
    "kind",
    ["alg_none", "wrong_key", "expired", "wrong_audience", "wrong_issuer", "garbage", "missing_exp", "unknown_user"],
)
async def test_forged_tokens_get_401(services, client, kind):
    admin_id = await make_user(services, "ada", "admin")
    tokens = {
        "alg_none": jwt.encode(
            {
                "sub": admin_id,
                "role": "admin",
                "iss": "persona-service",
                "aud": "persona-service-api",
                "iat": int(time.time()),
                "exp": int(time.time()) + 600,
            },
            None,
            algorithm="none",
        ),
        "wrong_key": _forge({"sub": admin_id}, key="y" * 48),
        "expired": _forge({"sub": admin_id, "iat": int(time.time()) - 7200, "exp": int(time.time()) - 3600}),
        "wrong_audience": _forge({"sub": admin_id, "aud": "another-api"}),
        "wrong_issuer": _forge({"sub": admin_id, "iss": "evil"}),
        "garbage": "not.a.token",
        "missing_exp": jwt.encode(
            {
                "sub": admin_id,
                "role": "admin",
                "iss": "persona-service",
                "aud": "persona-service-api",
                "iat": int(time.time()),
            },
            SECRET,
        ),
        "unknown_user": _forge({"sub": "nobody"}),
    }
    r = await client.get("/studio/personas/owned", headers={"Authorization": f"Bearer {tokens[kind]}"})
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    assert r.json()["detail"] and "Traceback" not in r.text
    good = await client.get("/studio/personas/owned", headers=await login(client, "ada"))
    assert good.status_code == 200


async def test_login_refuses_wrong_password_and_unknown_user(services, client):
    await make_user(services, "ada", "admin")
    for form in ({"username": "ada", "password": "wrong password"}, {"username": "nobody", "password": PASSWORD}):
        r = await client.post("/studio/auth/token", data=form)
        assert (r.status_code, r.json()) == (401, {"detail": "Incorrect username or password"})


async def test_without_jwt_secret_a_generated_secret_in_the_data_dir_is_shared(
    settings, local_embeddings, services, caplog
):
    """JWT_SECRET unset: the first start writes a random secret to <data_dir>/jwt-secret (0600),
    later starts (and other instances on the same data dir) reuse it, so tokens carry over."""
    await make_user(services, "ada", "admin")
    path = settings.data_dir / "jwt-secret"
    assert not path.exists()  # the explicit JWT_SECRET of the fixture wins: no file was written
    caplog.set_level(logging.INFO, logger="server.studio.auth")
    async with (
        extra_app(settings, local_embeddings, jwt_secret=None) as (_, first),
        extra_app(settings, local_embeddings, jwt_secret=None) as (_, second),
    ):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        secret = path.read_text().strip()
        assert len(secret.encode()) >= 64
        token = await login(first, "ada")
        assert (await second.get("/studio/personas/owned", headers=token)).status_code == 200
        assert (await first.get("/studio/personas/owned", headers=await login(second, "ada"))).status_code == 200
        assert jwt.decode(token["Authorization"][7:], secret, algorithms=["HS256"], audience="persona-service-api")[
            "sub"
        ]
    lines = [r.getMessage() for r in caplog.records if "JWT_SECRET is not set" in r.getMessage()]
    assert len(lines) == 2 and "generated in" in lines[0] and "kept in" in lines[1] and str(path) in lines[0]
    assert secret not in caplog.text
    # a restart keeps the secret; an explicit JWT_SECRET still wins over the file
    async with extra_app(settings, local_embeddings, jwt_secret=None) as (_, again):
        assert (await again.get("/studio/personas/owned", headers=token)).status_code == 200
    assert path.read_text().strip() == secret
    async with extra_app(settings, local_embeddings, jwt_secret=SecretStr("z" * 40)) as (_, explicit):
        r = await explicit.get("/studio/personas/owned", headers=token)
        assert r.status_code == 401


async def test_weak_or_unavailable_jwt_secret_is_a_clear_503(services, client, tmp_path):
    await make_user(services, "ada", "admin")
    services.settings.jwt_secret = SecretStr("too short")
    r = await client.post("/studio/auth/token", data={"username": "ada", "password": PASSWORD})
    assert r.status_code == 503 and "32 bytes" in r.json()["detail"]
    # unset, and the data dir cannot hold the secret file (a regular file is in the way)
    (tmp_path / "in-the-way").write_text("")
    services.settings.jwt_secret = None
    services.settings.data_dir = tmp_path / "in-the-way" / "data"
    r = await client.post("/studio/auth/token", data={"username": "ada", "password": PASSWORD})
    assert r.status_code == 503 and "JWT_SECRET" in r.json()["detail"]
    assert "in-the-way" not in r.text and "Traceback" not in r.text
    r = await client.get("/studio/personas/owned", headers={"Authorization": "Bearer abc"})
    assert r.status_code == 503 and "JWT_SECRET" in r.json()["detail"]


async def test_openapi_token_url_follows_the_studio_prefix(settings, local_embeddings, services, client):
    def token_url(schema: dict) -> str:
        return schema["components"]["securitySchemes"]["OAuth2PasswordBearer"]["flows"]["password"]["tokenUrl"]

    assert token_url((await client.get("/openapi.json")).json()) == "/studio/auth/token"
    await make_user(services, "ada", "admin")
    async with extra_app(settings, local_embeddings, studio_prefix="/api/v2/studio") as (app, other):
        url = token_url((await other.get("/openapi.json")).json())
        assert url == "/api/v2/studio/auth/token" == token_url(app.openapi())
        # Swagger's Authorize posts the password form there
        r = await other.post(url, data={"username": "ada", "password": PASSWORD, "grant_type": "password"})
        assert r.status_code == 200 and r.json()["token_type"] == "bearer"


async def _stored_rag(services, pid: str) -> dict:
    from store.studio import get_studio_persona

    return (await get_studio_persona(services.pool, int(pid)))["attributes"]["rag"]


async def test_partial_rag_update_is_checked_against_the_merged_settings(services, client):
    b_id, builder = await user_with_token(services, client, "bob", "builder")
    assert (await client.post("/studio/collections", headers=builder, json={"name": "docs"})).status_code == 201
    pid = await build(
        client, builder, b_id, rag={"db_collections": ["docs"], "query_metric": "euclidean", "query_threshold": 0.9}
    )
    # the stored metric is euclidean: a distance of 1.2 is fine, though no metric was given
    r = await client.put(f"/studio/personas/build/{pid}", headers=builder, json={"rag": {"query_threshold": 1.2}})
    assert (r.status_code, r.json()) == (200, {"message": "Persona updated successfully"})
    assert await _stored_rag(services, pid) == {
        "db_collections": ["docs"],
        "query_metric": "euclidean",
        "query_threshold": 1.2,
    }
    # switching to cosine while the stored threshold is 1.2 is refused, and nothing changes
    r = await client.put(
        f"/studio/personas/build/{pid}", headers=builder, json={"rag": {"query_metric": "cosine"}, "description": "new"}
    )
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert isinstance(detail, str) and "query_threshold 1.2" in detail and "cosine" in detail
    assert await _stored_rag(services, pid) == {
        "db_collections": ["docs"],
        "query_metric": "euclidean",
        "query_threshold": 1.2,
    }
    from store.studio import get_studio_persona

    assert (await get_studio_persona(services.pool, int(pid)))["description"] == ""
    r = await client.put(f"/studio/personas/build/{pid}", headers=builder, json={"rag": {"query_threshold": -0.5}})
    assert r.status_code == 422 and "euclidean" in r.json()["detail"]
    # metric and a fitting threshold together, or a null threshold (the metric's default), pass
    r = await client.put(
        f"/studio/personas/build/{pid}",
        headers=builder,
        json={"rag": {"query_metric": "cosine", "query_threshold": 0.5}},
    )
    assert r.status_code == 200
    assert await _stored_rag(services, pid) == {
        "db_collections": ["docs"],
        "query_metric": "cosine",
        "query_threshold": 0.5,
    }
    r = await client.put(f"/studio/personas/build/{pid}", headers=builder, json={"rag": {"query_threshold": 1.2}})
    assert r.status_code == 422 and "between -1 and 1" in r.json()["detail"]
    r = await client.put(f"/studio/personas/build/{pid}", headers=builder, json={"rag": {"query_threshold": None}})
    assert r.status_code == 200 and (await _stored_rag(services, pid))["query_threshold"] is None
    r = await client.put(
        f"/studio/personas/build/{pid}",
        headers=builder,
        json={"rag": {"query_metric": "euclidean", "query_threshold": 1.2}},
    )
    assert r.status_code == 200
    # a persona with no stored rag at all is judged against the cosine default
    plain = await build(client, builder, b_id, name="Plain")
    r = await client.put(f"/studio/personas/build/{plain}", headers=builder, json={"rag": {"query_threshold": 1.2}})
    assert r.status_code == 422
    # creating still checks the complete settings (the metric defaults to cosine)
    r = await client.post(
        "/studio/personas/build",
        headers=builder,
        json={"persona_name": "X", "creator_id": b_id, "rag": {"query_threshold": 1.2}},
    )
    assert r.status_code == 422
    r = await client.post(
        "/studio/personas/build",
        headers=builder,
        json={"persona_name": "X", "creator_id": b_id, "rag": {"query_threshold": 1.2, "query_metric": "euclidean"}},
    )
    assert r.status_code == 200


async def test_model_failure_is_a_502_and_leaves_no_trace(services, client, script, caplog):
    (_, _), (b_id, builder), (_, user) = await _three(services, client)
    pid = await build(client, builder, b_id)

    def provider_down(messages):
        raise ConnectionError("upstream said 500 at https://internal.example/v1 key=sk-secret")

    script.responder = provider_down
    r = await client.post(f"/studio/personas/{pid}/chat", headers=user, json={"content": "First try"})
    assert (r.status_code, r.json()) == (502, {"detail": "The model provider failed to answer; try again later."})
    assert "sk-secret" not in r.text and "internal.example" not in r.text
    # no history was started by the failed first message, and its chat thread is gone
    assert (await client.get(f"/studio/personas/{pid}/message_history", headers=user)).json()["messages"] == []
    async with services.pool.connection() as conn:
        assert (await (await conn.execute("SELECT COUNT(*) AS n FROM checkpoints")).fetchone())["n"] == 0

    script.responder = lambda messages: "fine"
    hid = (await client.post(f"/studio/personas/{pid}/chat", headers=user, json={"content": "Hello"})).json()[
        "message_history_id"
    ]
    script.responder = provider_down
    r = await client.post(
        f"/studio/personas/{pid}/chat", headers=user, json={"message_history_id": hid, "content": "Doomed question"}
    )
    assert r.status_code == 502
    script.responder = lambda messages: "again"
    r = await client.post(
        f"/studio/personas/{pid}/chat", headers=user, json={"message_history_id": hid, "content": "Next question"}
    )
    assert r.status_code == 200 and r.json()["response"] == "again"
    # neither the history nor the model's memory of the thread holds the failed turn
    assert not any("Doomed" in str(m.content) for m in script.calls[-1])
    history = (await client.get(f"/studio/personas/{pid}/message_history", headers=user)).json()["messages"]
    assert [(m["role"], m["content"]) for m in history[0]["messages"]] == [
        ("user", "Hello"),
        ("assistant", "fine"),
        ("user", "Next question"),
        ("assistant", "again"),
    ]


async def test_connections_lost_mid_turn_are_replaced_and_the_turn_is_saved_whole(services, client, script):
    """Every connection of the service ends while the model answers, as when Postgres restarts:
    the pool replaces the dead connections before the turn saves, so the turn is saved whole, once.
    (A database that stays down answers 503: tests/runtime/test_database_faults.py.)"""
    (_, _), (b_id, builder), (_, user) = await _three(services, client)
    pid = await build(client, builder, b_id)

    def connections_lost(messages):
        with psycopg.connect(services.database_url, autocommit=True) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE pid <> pg_backend_pid() AND datname = current_database()"
            )
        return "saved after all"

    script.responder = connections_lost
    r = await client.post(f"/studio/personas/{pid}/chat", headers=user, json={"content": "First try"})
    assert r.status_code == 200 and r.json()["response"] == "saved after all", r.text
    script.responder = lambda messages: "fine"
    hid = r.json()["message_history_id"]
    r = await client.post(
        f"/studio/personas/{pid}/chat", headers=user, json={"content": "Hello", "message_history_id": hid}
    )
    assert r.status_code == 200 and r.json()["response"] == "fine"
    history = (await client.get(f"/studio/personas/{pid}/message_history", headers=user)).json()["messages"]
    assert [(m["role"], m["content"]) for h in history for m in h["messages"]] == [
        ("user", "First try"),
        ("assistant", "saved after all"),
        ("user", "Hello"),
        ("assistant", "fine"),
    ]
    assert "First try" in str(script.calls[-1])  # the model's memory of the thread holds the first turn


async def test_a_nul_in_the_model_reply_is_dropped_not_a_failed_write(services, client, script):
    (_, _), (b_id, builder), (_, user) = await _three(services, client)
    pid = await build(client, builder, b_id)
    script.responder = lambda messages: "Fine\x00 thanks"
    r = await client.post(f"/studio/personas/{pid}/chat", headers=user, json={"content": "How are you?"})
    assert r.status_code == 200 and r.json()["response"] == "Fine thanks", r.text
    history = (await client.get(f"/studio/personas/{pid}/message_history", headers=user)).json()["messages"]
    assert [m["content"] for h in history for m in h["messages"]] == ["How are you?", "Fine thanks"]


async def test_build_and_update_validation(services, client):
    (admin_id, admin), (b_id, builder), (u_id, _) = await _three(services, client)
    r = await client.post("/studio/personas/build", headers=admin, json={"persona_name": "X", "creator_id": "user123"})
    assert (r.status_code, r.json()) == (404, {"detail": "Invalid user_id: User does not exist"})
    r = await client.post("/studio/personas/build", headers=builder, json={"persona_name": "X", "creator_id": admin_id})
    assert r.status_code == 400 and "creator_id" in r.json()["detail"]
    for extra in ({"owner_id": admin_id}, {"id": 5}, {"persona_id": "7"}):
        r = await client.post(
            "/studio/personas/build", headers=builder, json={"persona_name": "X", "creator_id": b_id, **extra}
        )
        assert r.status_code == 422, extra
    r = await client.post(
        "/studio/personas/build",
        headers=builder,
        json={"persona_name": "X", "creator_id": b_id, "rag": {"query_metric": "manhattan"}},
    )
    assert r.status_code == 422
    r = await client.post(
        "/studio/personas/build",
        headers=builder,
        json={
            "persona_name": "Marketing Persona",
            "creator_id": b_id,
            "description": "Targets campaigns.",
            "system_prompt": "You are upbeat.",
            "model": "fake:scripted",
            "temperature": 0.3,
        },
    )
    assert r.status_code == 200
    body = r.json()
    assert body["message"] == "Persona created successfully" and body["persona_name"] == "Marketing Persona"
    pid = body["persona_id"]
    assert isinstance(pid, str)

    r = await client.put("/studio/personas/build/424242", headers=admin, json={"description": "x"})
    assert (r.status_code, r.json()) == (404, {"detail": "Persona not found"})
    r = await client.put(f"/studio/personas/build/{pid}", headers=builder, json={"creator_id": u_id})
    assert r.status_code == 400
    r = await client.put(f"/studio/personas/build/{pid}", headers=builder, json={"owner_id": u_id})
    assert r.status_code == 422
    r = await client.put(f"/studio/personas/build/{pid}", headers=builder, json={"persona_name": None})
    assert r.status_code == 422
    r = await client.put(
        f"/studio/personas/build/{pid}",
        headers=builder,
        json={"persona_name": "Marketing Persona v2", "system_prompt": "You are calm."},
    )
    assert (r.status_code, r.json()) == (200, {"message": "Persona updated successfully"})
    from store.personas import get_chat_profile

    profile = await get_chat_profile(services.pool, int(pid))
    assert (profile["name"], profile["system_prompt"], profile["version"]) == (
        "Marketing Persona v2",
        "You are calm.",
        2,
    )
    assert profile["description"] == "Targets campaigns."
    # an admin may hand a persona to another builder
    r = await client.put(f"/studio/personas/build/{pid}", headers=admin, json={"creator_id": "ghost"})
    assert (r.status_code, r.json()) == (404, {"detail": "Invalid user_id: User does not exist"})
    b2 = await make_user(services, "bea", "builder")
    assert (
        await client.put(f"/studio/personas/build/{pid}", headers=admin, json={"creator_id": b2})
    ).status_code == 200
    assert (await client.get("/studio/personas/owned", headers=builder)).json() == {}


async def test_chat_histories_titles_and_memory(services, client, script):
    script.responder = lambda messages: f"reply {len(script.calls)}"
    (_, admin), (b_id, builder), (_, user) = await _three(services, client)
    pid = await build(client, builder, b_id, system_prompt="You are Offie, a marketer.")
    for body in ({}, {"content": ""}, {"content": "   "}, {"message_history_id": "x"}):
        r = await client.post(f"/studio/personas/{pid}/chat", headers=user, json=body)
        assert (r.status_code, r.json()) == (404, {"detail": "Message content is required"}), body
    r = await client.post(
        f"/studio/personas/{pid}/chat",
        headers=user,
        json={"content": "How can you help me with marketing strategies for my bakery?"},
    )
    assert r.status_code == 200
    first = r.json()
    hid = first["message_history_id"]
    assert first["persona_id"] == pid and first["response"] == "reply 1"
    assert first["rag_hit"]["success"] == "false"
    r = await client.post(
        f"/studio/personas/{pid}/chat", headers=user, json={"message_history_id": hid, "content": "And for the summer?"}
    )
    assert r.json()["message_history_id"] == hid and r.json()["response"] == "reply 2"
    second_prompt = [m.content for m in script.calls[-1]]
    assert any("bakery" in str(c) for c in second_prompt) and any("reply 1" in str(c) for c in second_prompt)
    r = await client.post(
        f"/studio/personas/{pid}/chat", headers=user, json={"message_history_id": "unknown", "content": "hi"}
    )
    assert (r.status_code, r.json()) == (404, {"detail": "Message history not found"})

    history = (await client.get(f"/studio/personas/{pid}/message_history", headers=user)).json()
    assert history["persona_id"] == pid and len(history["messages"]) == 1
    entry = history["messages"][0]
    assert entry["id"] == hid
    assert entry["title"] == "How can you help me with marketing strategies..."
    assert "bakery" in entry["description"] and entry["created_at"].endswith("Z")
    assert [(m["role"], m["content"]) for m in entry["messages"]] == [
        ("user", "How can you help me with marketing strategies for my bakery?"),
        ("assistant", "reply 1"),
        ("user", "And for the summer?"),
        ("assistant", "reply 2"),
    ]
    # the admin has no histories of their own here
    assert (await client.get(f"/studio/personas/{pid}/message_history", headers=admin)).json()["messages"] == []


async def test_admin_creates_users_and_duplicates_conflict(services, client):
    _, admin = await user_with_token(services, client, "ada", "admin")
    r = await client.post(
        "/studio/users", headers=admin, json={"username": "carl", "password": PASSWORD, "role": "builder"}
    )
    assert r.status_code == 201 and r.json()["role"] == "builder" and "password" not in r.text
    assert (
        await client.post("/studio/users", headers=admin, json={"username": "carl", "password": PASSWORD})
    ).status_code == 409
    assert (
        await client.post("/studio/users", headers=admin, json={"username": "dan", "password": "short"})
    ).status_code == 422
    assert (
        await client.post(
            "/studio/users", headers=admin, json={"username": "dan", "password": PASSWORD, "role": "root"}
        )
    ).status_code == 422
    assert (await login(client, "carl"))["Authorization"].startswith("Bearer ")


async def test_cli_creates_the_first_admin(settings, monkeypatch, capsys):
    import asyncio
    import io

    from runtime.settings import get_settings
    from server.cli import main

    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("DATA_DIR", str(settings.data_dir))
    get_settings.cache_clear()
    try:
        monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
        args = ["users", "create", "--username", "root", "--role", "admin", "--password-stdin"]
        assert await asyncio.to_thread(main, args) == 0
        assert "Created admin root" in capsys.readouterr().out
        monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
        assert await asyncio.to_thread(main, ["users", "create", "--username", "root", "--password-stdin"]) == 2
        assert "already exists" in capsys.readouterr().err
        monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
        assert await asyncio.to_thread(main, ["users", "create", "--username", "other", "--password-stdin"]) == 2
    finally:
        get_settings.cache_clear()
