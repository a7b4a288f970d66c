"""Ghostwriter REST contract: auth, accounts/posts import, create/refine/history/rollback, list,
analytics, generate, batch create, validation errors."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from runtime.settings import Settings
from tests.support.ghostwriter import (
    API_KEY,
    HEADERS,
    SAMPLE_POST,
    add_account,
    builder_responder,
    ghostwriter_settings,
    sample_account,
)
from tests.support.stub_server import LoopbackServer, StubHandler
from tools.engagement import split_holdout
from tools.style_similarity import style_similarity

GW = "/ghostwriter"


@pytest.fixture
def settings(fresh_db_url, tmp_path) -> Settings:
    return ghostwriter_settings(fresh_db_url, tmp_path)


async def test_every_route_needs_the_api_key(client):
    for headers in [{}, {"X-API-Key": "wrong"}, {"X-API-Key": "ключ".encode()}, {"X-API-Key": API_KEY + "x"}]:
        await _refused(client, headers)
    r = await client.get(GW + "/personas/list", headers=HEADERS)
    assert r.status_code == 200


async def _refused(client, headers):
    for method, path in [
        ("GET", "/personas/list"),
        ("GET", "/personas/analytics"),
        ("GET", "/personas/1"),
        ("POST", "/personas/1/create"),
        ("POST", "/personas/1/chat"),
        ("POST", "/personas/batch/create"),
        ("POST", "/accounts"),
    ]:
        r = await client.request(method, GW + path, headers=headers, json={})
        assert r.status_code == 403, (method, path, r.text)
        assert isinstance(r.json()["detail"], str)


async def test_import_posts_json_and_csv_is_idempotent(client):
    account = sample_account(0)
    await add_account(client, account)
    posts = account["posts"][:5]
    url = f"{GW}/accounts/{account['account_id']}/posts"
    r = await client.post(url, headers=HEADERS, json={"posts": posts})
    assert r.json() == {
        "success": True,
        "account_id": account["account_id"],
        "received": 5,
        "inserted": 5,
        "updated": 0,
    }
    r = await client.post(url, headers=HEADERS, json=posts)
    assert r.json()["inserted"] == 0 and r.json()["updated"] == 5
    lines = ["id,text,created_at,likes,views"] + [
        f'csv-{i},"hello, world {i}",2025-02-0{i + 1}T10:00:00Z,{i},10' for i in range(3)
    ]
    r = await client.post(url, headers={**HEADERS, "Content-Type": "text/csv"}, content="\n".join(lines))
    assert r.status_code == 200 and r.json()["inserted"] == 3
    r = await client.post(url, headers={**HEADERS, "Content-Type": "text/csv"}, content="\n".join(lines))
    assert r.json()["inserted"] == 0 and r.json()["updated"] == 3


async def test_import_validation_errors_are_400_with_detail(client):
    account = sample_account(0)
    await add_account(client, account)
    url = f"{GW}/accounts/{account['account_id']}/posts"
    r = await client.post(url, headers=HEADERS, json={"posts": [{"id": "1", "text": "x"}]})
    assert r.status_code == 400 and r.json()["detail"].startswith("posts[0].created_at")
    r = await client.post(
        url,
        headers=HEADERS,
        json={"posts": [{"id": "1", "text": "x", "likes": -1, "created_at": "2025-01-01T00:00:00Z"}]},
    )
    assert r.status_code == 400 and "likes" in r.json()["detail"]
    r = await client.post(url, headers={**HEADERS, "Content-Type": "application/json"}, content=b"{nope")
    assert r.status_code == 400 and r.json() == {"detail": "Request body must be valid JSON"}
    r = await client.post(f"{GW}/accounts/unknown/posts", headers=HEADERS, json={"posts": []})
    assert r.status_code == 404 and r.json() == {"detail": "Account not found"}
    r = await client.post(f"{GW}/accounts", headers=HEADERS, json={"handle": "x"})
    assert r.status_code == 400 and r.json()["detail"].startswith("id:")


async def test_create_persona_errors(client, script):
    script.responder = builder_responder
    r = await client.post(f"{GW}/personas/nobody/create", headers=HEADERS, json={})
    assert r.status_code == 404 and r.json() == {"detail": "Account not found"}
    account = sample_account(0)
    await add_account(client, account)
    r = await client.post(f"{GW}/personas/{account['account_id']}/create", headers=HEADERS, json={})
    assert r.status_code == 400
    assert r.json() == {"detail": "No posts found for this account. Sync posts first."}
    r = await client.post(f"{GW}/personas/{account['account_id']}/create", headers=HEADERS, json={"post_limit": "many"})
    assert r.status_code == 400 and r.json()["detail"].startswith("post_limit:")
    r = await client.get(f"{GW}/personas/{account['account_id']}", headers=HEADERS)
    assert r.status_code == 404 and r.json() == {"detail": "Persona not found for this account"}


async def test_create_measures_confidence_then_refine_history_and_rollback(client, script):
    script.responder = builder_responder
    account = sample_account(0)
    aid = account["account_id"]
    await add_account(client, account, account["posts"][:60])

    r = await client.post(f"{GW}/personas/{aid}/create", headers=HEADERS, json={"post_limit": 50})
    assert r.status_code == 200, r.text
    persona = r.json()["persona"]
    assert r.json()["success"] is True
    assert set(persona) == {
        "version",
        "system_prompt",
        "posts_analyzed_count",
        "confidence_score",
        "style_traits",
        "refinement_summary",
        "engagement_aware",
        "avg_engagement",
    }
    assert persona["version"] == 1 and persona["posts_analyzed_count"] == 50
    assert persona["refinement_summary"] == "Initial persona creation with engagement context"
    # Measured: the score is style similarity of the generated samples to the held-out real posts.
    used = account["posts"][10:60]
    heldout = [p["text"] for p in split_holdout(used, 0.2, 7).heldout]
    expected = round(style_similarity([SAMPLE_POST] * 4, heldout).combined, 4)
    assert persona["confidence_score"] == expected and 0 < expected < 1
    assert "uses lowercase for emphasis" in persona["style_traits"]  # measured trait
    assert "playful crypto slang" in persona["style_traits"]  # model trait
    assert f"@{account['handle']}" in persona["system_prompt"] and used[-1]["text"] not in ("",)
    assert persona["avg_engagement"] > 0 and persona["engagement_aware"] is True

    r = await client.post(f"{GW}/personas/{aid}/create", headers=HEADERS, json={})
    assert r.status_code == 400
    assert r.json() == {"detail": "Persona already exists for this account. Use force=true to recreate."}
    r = await client.post(f"{GW}/personas/{aid}/create", headers=HEADERS, json={"force": True, "post_limit": 40})
    assert r.status_code == 200 and r.json()["persona"]["version"] == 2

    await add_account(client, account, account["posts"][60:80])
    r = await client.post(f"{GW}/personas/{aid}/refine", headers=HEADERS, json={})
    assert r.status_code == 200, r.text
    refined = r.json()["persona"]
    assert set(refined) == {
        "version",
        "system_prompt",
        "posts_analyzed_count",
        "confidence_score",
        "refinement_summary",
    }
    assert refined["version"] == 3 and refined["posts_analyzed_count"] == 80
    assert refined["refinement_summary"].startswith("Persona refined with 20 new posts")
    r = await client.get(f"{GW}/personas/{aid}", headers=HEADERS)
    current = r.json()["persona"]
    assert current["posts_analyzed"] == 40 + 20 and current["version"] == 3
    assert current["created_at"].endswith("Z")

    r = await client.get(f"{GW}/personas/{aid}/history", headers=HEADERS, params={"limit": 2})
    history = r.json()
    assert history["account_id"] == aid and history["total_versions"] == 3
    assert [v["version"] for v in history["versions"]] == [3, 2]
    assert set(history["versions"][0]) == {
        "version",
        "system_prompt",
        "posts_analyzed_count",
        "refinement_summary",
        "confidence_score",
        "created_at",
    }
    r = await client.get(f"{GW}/personas/{aid}/history", headers=HEADERS, params={"limit": "ten"})
    assert r.status_code == 400 and r.json() == {"detail": "limit must be an integer"}

    r = await client.post(f"{GW}/personas/{aid}/rollback/1", headers=HEADERS)
    assert r.status_code == 200
    assert r.json()["message"] == "Rolled back to version 1" and r.json()["persona"]["version"] == 1
    r = await client.post(f"{GW}/personas/{aid}/rollback/9", headers=HEADERS)
    assert r.status_code == 400 and r.json() == {"detail": "Version 9 not found in history"}
    r = await client.get(f"{GW}/personas/{aid}/history", headers=HEADERS)
    assert r.json()["total_versions"] == 3 and len(r.json()["versions"]) == 3
    r = await client.get(f"{GW}/personas/{aid}", headers=HEADERS)
    assert r.json()["persona"]["version"] == 1

    # A refine after a rollback adds version 4 on top of the history.
    r = await client.post(f"{GW}/personas/{aid}/refine", headers=HEADERS, json={"post_limit": 30})
    assert r.json()["persona"]["version"] == 4


async def test_refine_without_persona_or_posts(client, script):
    script.responder = builder_responder
    account = sample_account(1)
    await add_account(client, account)
    r = await client.post(f"{GW}/personas/{account['account_id']}/refine", headers=HEADERS, json={})
    assert r.status_code == 404 and r.json() == {"detail": "Persona not found for this account"}


async def test_list_analytics_and_generate(client, script):
    script.responder = builder_responder
    a, b = sample_account(0), sample_account(1)
    await add_account(client, a, a["posts"][:30])
    await add_account(client, b, b["posts"][:10])
    r = await client.get(f"{GW}/personas/analytics", headers=HEADERS)
    assert r.json() == {
        "total_accounts": 2,
        "accounts_with_personas": 0,
        "coverage_percentage": 0.0,
        "avg_persona_version": 0.0,
        "avg_posts_analyzed": 0.0,
    }
    assert (await client.post(f"{GW}/personas/{a['account_id']}/create", headers=HEADERS, json={})).status_code == 200
    r = await client.get(f"{GW}/personas/list", headers=HEADERS)
    assert r.json() == {
        "personas": [
            {
                "account_id": a["account_id"],
                "handle": a["handle"],
                "display_name": a["display_name"],
                "avatar_url": a["avatar_url"],
                "persona_version": 1,
                "posts_analyzed": 30,
            }
        ],
        "total": 1,
    }
    r = await client.get(f"{GW}/personas/analytics", headers=HEADERS)
    assert r.json() == {
        "total_accounts": 2,
        "accounts_with_personas": 1,
        "coverage_percentage": 50.0,
        "avg_persona_version": 1.0,
        "avg_posts_analyzed": 30.0,
    }

    r = await client.post(f"{GW}/personas/{a['account_id']}/generate", headers=HEADERS, json={})
    assert r.status_code == 400 and r.json() == {"detail": "prompt is required"}
    script.calls.clear()
    r = await client.post(
        f"{GW}/personas/{a['account_id']}/generate", headers=HEADERS, json={"prompt": "Write about community"}
    )
    assert r.json() == {
        "success": True,
        "generated_post": SAMPLE_POST,
        "account_id": a["account_id"],
        "handle": a["handle"],
    }
    system, *shots, user = script.calls[0]
    assert f"@{a['handle']}" in system.content and "Write about community" in user.content
    examples = [m.content for m in shots if m.type == "ai"]  # the version's voice examples, as earlier turns
    assert len(examples) == len(shots) // 2 > 0 and all(e in {p["text"] for p in a["posts"]} for e in examples)
    r = await client.post(f"{GW}/personas/{b['account_id']}/generate", headers=HEADERS, json={"prompt": "x"})
    assert r.status_code == 404


async def test_batch_create_fans_out_with_per_account_results(client, script):
    script.responder = builder_responder
    a, b, c = sample_account(0), sample_account(1), sample_account(2)
    await add_account(client, a, a["posts"][:20])
    await add_account(client, b)  # no posts
    await add_account(client, c, c["posts"][:20])
    r = await client.post(f"{GW}/personas/batch/create", headers=HEADERS, json={"account_ids": None})
    body = r.json()
    assert r.status_code == 200
    assert body["message"] == "Processed 3 accounts: 2 successful, 1 failed"
    assert (body["total"], body["successful"], body["failed"]) == (3, 2, 1)
    by_id = {x["account_id"]: x for x in body["results"]}
    assert by_id[b["account_id"]] == {"account_id": b["account_id"], "success": False, "error": "No posts found"}
    assert by_id[a["account_id"]] == {"account_id": a["account_id"], "success": True, "persona_version": 1}
    # null again: only active accounts still without a persona (b), explicit ids honour force.
    r = await client.post(f"{GW}/personas/batch/create", headers=HEADERS, json={})
    assert [x["account_id"] for x in r.json()["results"]] == [b["account_id"]]
    r = await client.post(
        f"{GW}/personas/batch/create", headers=HEADERS, json={"account_ids": [c["account_id"], "ghost"], "force": True}
    )
    results = r.json()["results"]
    assert results[0] == {"account_id": c["account_id"], "success": True, "persona_version": 2}
    assert results[1] == {"account_id": "ghost", "success": False, "error": "Account not found"}


async def test_cli_load_sample_imports_the_sample_accounts(fresh_db_url, tmp_path, monkeypatch, script, capsys):
    import argparse

    from runtime.settings import get_settings
    from server.cli.ghostwriter import load_sample

    monkeypatch.setenv("DATABASE_URL", fresh_db_url)
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CHAT_MODEL", "fake:scripted")
    get_settings.cache_clear()
    try:
        assert await load_sample(argparse.Namespace()) == 0
        first = capsys.readouterr().out
        assert await load_sample(argparse.Namespace()) == 0
        second = capsys.readouterr().out
    finally:
        get_settings.cache_clear()
    assert first.count("120 new posts, 0 updated") == 6
    assert second.count("0 new posts, 120 updated") == 6


class _XStub(LoopbackServer):
    """A loopback stand-in for the X API v2 user-timeline endpoint (two pages)."""

    def __init__(self) -> None:
        import json
        from urllib.parse import parse_qs, urlparse

        self.requests: list[tuple[str, dict, str]] = []
        stub = self

        class Handler(StubHandler):
            def do_GET(self):  # noqa: N802
                url = urlparse(self.path)
                query = parse_qs(url.query)
                stub.requests.append((url.path, query, self.headers.get("Authorization", "")))
                second = query.get("pagination_token") == ["p2"]
                data = [
                    {
                        "id": f"x{i}",
                        "text": f"post {i} from the api",
                        "created_at": f"2025-03-0{i}T08:00:00.000Z",
                        "public_metrics": {
                            "like_count": i,
                            "retweet_count": 1,
                            "reply_count": 0,
                            "impression_count": 100,
                        },
                    }
                    for i in ((3, 4) if second else (1, 2))
                ]
                body = json.dumps({"data": data, "meta": {} if second else {"next_token": "p2"}}).encode()
                self.send_json(200, body)

        super().__init__(Handler)


async def test_sync_from_the_x_api_stub(client, services):
    account = sample_account(3)
    await add_account(client, account)
    url = f"{GW}/accounts/{account['account_id']}/sync"
    r = await client.post(url, headers=HEADERS)
    assert r.status_code == 400 and r.json() == {"detail": "X API sync is not configured (set X_BEARER_TOKEN)"}
    stub = _XStub()
    try:
        services.settings.x_bearer_token = SecretStr("x-bearer")
        services.settings.x_api_base_url = stub.url
        r = await client.post(url, headers=HEADERS)
        again = await client.post(url, headers=HEADERS)
    finally:
        stub.close()
    assert r.json() == {
        "success": True,
        "account_id": account["account_id"],
        "received": 4,
        "inserted": 4,
        "updated": 0,
    }
    assert again.json()["inserted"] == 0 and again.json()["updated"] == 4
    path, query, auth = stub.requests[0]
    assert path == f"/2/users/{account['account_id']}/tweets" and auth == "Bearer x-bearer"
    assert query["tweet.fields"] == ["created_at,public_metrics"]
    assert stub.requests[1][1]["pagination_token"] == ["p2"]


async def test_openapi_shows_the_request_bodies_and_the_api_key_scheme(client):
    spec = (await client.get("/openapi.json")).json()
    operations = {
        (method.upper(), path): op
        for path, ops in spec["paths"].items()
        if path.startswith(GW)
        for method, op in ops.items()
    }
    schemes = spec["components"]["securitySchemes"]
    for op in operations.values():  # every route: the X-API-Key header scheme that checks BO_API_KEY
        [requirement] = op["security"]
        [name] = requirement
        assert schemes[name]["type"] == "apiKey" and schemes[name]["in"] == "header"
        assert schemes[name]["name"] == "X-API-Key" and "BO_API_KEY" in schemes[name]["description"]
        assert "403" in op["responses"]

    def body(method: str, path: str) -> dict:
        content = operations[(method, GW + path)]["requestBody"]["content"]
        ref = content["application/json"]["schema"]["$ref"]
        return spec["components"]["schemas"][ref.rsplit("/", 1)[1]]

    chat = body("POST", "/personas/{account_id}/chat")
    assert chat["required"] == ["message"]
    assert {
        "message",
        "conversation_history",
        "attachments",
        "max_tokens",
        "stream",
        "llm_config",
        "data_sources",
        "include_debug",
    } <= set(chat["properties"])
    assert chat["properties"]["max_tokens"]["default"] == 500 and chat["properties"]["stream"]["default"] is True
    create = body("POST", "/personas/{account_id}/create")
    assert create["properties"]["post_limit"]["default"] == 100 and create["properties"]["force"]["default"] is False
    assert "post_limit" in body("POST", "/personas/{account_id}/refine")["properties"]
    assert body("POST", "/personas/{account_id}/generate")["required"] == ["prompt"]
    assert "account_ids" in body("POST", "/personas/batch/create")["properties"]
    assert body("POST", "/accounts")["required"] == ["id", "handle"]
    posts = operations[("POST", GW + "/accounts/{account_id}/posts")]["requestBody"]["content"]
    assert {"application/json", "text/csv"} <= set(posts)
    responses = operations[("POST", GW + "/personas/{account_id}/chat")]["responses"]
    assert {"200", "400", "403", "404", "429"} <= set(responses)
    assert "202" in operations[("POST", GW + "/personas/batch/create")]["responses"]
