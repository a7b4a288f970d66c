"""Bad input is a 4xx in the API's error shape, never a 500, and stores nothing: NUL characters and
unpaired surrogates wherever text reaches Postgres, deep JSON, numbers beyond 64 bits, oversized
CSV fields, post texts and chat messages over their configured limits, oversized bodies."""

from __future__ import annotations

import json

import pytest

from runtime.settings import Settings
from tests.support.ghostwriter import HEADERS, add_account, builder_responder, ghostwriter_settings, sample_account
from tests.support.studio import build, login, make_user, upload

GW = "/ghostwriter"


@pytest.fixture
def settings(fresh_db_url, tmp_path) -> Settings:
    return ghostwriter_settings(
        fresh_db_url,
        tmp_path,
        ghostwriter_max_post_chars=500,
        ghostwriter_max_message_chars=300,
        max_request_bytes=2_000_000,
    )


def _refused(r, status: int = 400, *words: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    detail = r.json()["detail"]
    assert isinstance(detail, str) and detail
    for word in words:
        assert word in detail, detail


async def _count(services, sql: str, *args) -> int:
    async with services.pool.connection() as conn:
        cur = await conn.execute(sql, args)
        row = await cur.fetchone()
        return int(next(iter(row.values())) if isinstance(row, dict) else row[0])


async def test_nul_in_the_login_form_is_a_400_without_auth(services, client):
    await make_user(services, "alice", "builder")
    r = await client.post("/studio/auth/token", data={"username": "ali\x00ce", "password": "whatever1"})
    _refused(r, 400, "username", "NUL")
    r = await client.post("/studio/auth/token", data={"username": "alice", "password": "x\x00y"})
    _refused(r, 400, "password", "NUL")
    # the same form sent as multipart is checked too
    r = await client.post("/studio/auth/token", files={"username": (None, "al\x00ice"), "password": (None, "pw")})
    _refused(r, 400, "NUL")


async def test_nul_in_ghostwriter_ids_and_texts_stores_nothing(services, client):
    account = sample_account(0)
    await add_account(client, account, account["posts"][:3])
    aid = account["account_id"]
    r = await client.post(f"{GW}/accounts", headers=HEADERS, json={"id": "12\x0034", "handle": "x"})
    _refused(r, 400, "id", "NUL")
    r = await client.post(f"{GW}/accounts", headers=HEADERS, json={"id": "1234", "handle": "x\x00y"})
    _refused(r, 400, "handle")
    post = {"id": "p-nul", "text": "hello\x00world", "created_at": "2025-01-15T10:30:00Z"}
    good = {"id": "p-good", "text": "fine", "created_at": "2025-01-15T10:30:00Z"}
    r = await client.post(f"{GW}/accounts/{aid}/posts", headers=HEADERS, json={"posts": [good, post]})
    _refused(r, 400, "posts[1].text", "NUL")
    r = await client.post(f"{GW}/accounts/{aid}/posts", headers=HEADERS, json=[{**good, "id": "p\x00"}])
    _refused(r, 400, "[0].id")
    csv_body = "id,text,created_at\np-csv,bad\x00text,2025-01-15T10:30:00Z\n"
    r = await client.post(
        f"{GW}/accounts/{aid}/posts", headers={**HEADERS, "content-type": "text/csv"}, content=csv_body.encode()
    )
    _refused(r, 400, "CSV", "NUL")
    # a lone surrogate (valid JSON, not valid Unicode) is refused the same way
    r = await client.post(
        f"{GW}/accounts/{aid}/posts",
        headers={**HEADERS, "content-type": "application/json"},
        content=b'{"posts": [{"id": "p-s", "text": "a\\ud800b", "created_at": "2025-01-15T10:30:00Z"}]}',
    )
    _refused(r, 400, "surrogate")
    # ids in the path
    for path in (f"{GW}/personas/12%0034", f"{GW}/personas/12%0034/history", f"{GW}/personas/batch/jobs/a%00b"):
        _refused(await client.get(path, headers=HEADERS), 400, "NUL")
    r = await client.post(f"{GW}/personas/{aid}/chat", headers=HEADERS, json={"message": "hi\x00", "stream": False})
    _refused(r, 400, "message", "NUL")
    r = await client.post(f"{GW}/personas/batch/create", headers=HEADERS, json={"account_ids": ["a\x00"]})
    _refused(r, 400, "account_ids[0]")
    assert await _count(services, "SELECT count(*) FROM posts WHERE account_id = %s", aid) == 3
    assert await _count(services, "SELECT count(*) FROM accounts") == 1
    assert await _count(services, "SELECT count(*) FROM batch_jobs") == 0


async def test_nul_in_studio_names_chat_and_collections(services, client, script):
    uid = await make_user(services, "bob", "builder")
    headers = await login(client, "bob")
    r = await client.post(
        "/studio/personas/build", headers=headers, json={"persona_name": "Of\x00fie", "creator_id": uid}
    )
    _refused(r, 400, "persona_name", "NUL")
    assert await _count(services, "SELECT count(*) FROM personas") == 0
    pid = await build(client, headers, uid)
    r = await client.put(f"/studio/personas/build/{pid}", headers=headers, json={"persona_name": "X\x00"})
    _refused(r, 400, "NUL")

    script.replies = ["Hello there."] * 4
    r = await client.post(f"/studio/personas/{pid}/chat", headers=headers, json={"content": "hi \x00 there"})
    _refused(r, 400, "content", "NUL")
    r = await client.post(
        f"/studio/personas/{pid}/chat", headers=headers, json={"content": "hi", "message_history_id": "h\x00"}
    )
    _refused(r, 400, "message_history_id", "NUL")
    assert await _count(services, "SELECT count(*) FROM conversations") == 0

    r = await client.post("/studio/collections", headers=headers, json={"name": "do\x00cs", "description": ""})
    _refused(r, 400, "NUL")
    _refused(await client.get("/studio/collections/do%00cs/documents", headers=headers), 400, "URL path")
    _refused(await client.delete("/studio/collections/do%00cs", headers=headers), 400, "URL path")
    r = await client.post("/studio/collections", headers=headers, json={"name": "docs", "description": "d"})
    assert r.status_code == 201, r.text
    # a text file with a NUL after its first 8 KB: the sniff of the head passes, the text does not
    r = await upload(client, headers, "docs", "notes.md", b"# Notes\n" + b"a" * 9000 + b"\x00 tail\n")
    _refused(r, 400, "NUL")
    r = await upload(client, headers, "docs", "notes.md", "fine text", path="dir/no\x00te.md")
    _refused(r, 400, "path", "NUL")
    # a NUL in the multipart file name (httpx would percent-encode it, so the body is written here)
    boundary = "b0und4ry"
    raw = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="no\x00tes.md"\r\n'
        f"Content-Type: text/markdown\r\n\r\nfine text\r\n--{boundary}--\r\n"
    ).encode()
    r = await client.post(
        "/studio/collections/docs/documents",
        headers={**headers, "content-type": f"multipart/form-data; boundary={boundary}"},
        content=raw,
    )
    _refused(r, 400, "NUL")
    assert await _count(services, "SELECT count(*) FROM document_chunks") == 0
    r = await client.get("/studio/personas/owned?x=%00", headers=headers)
    _refused(r, 400, "Query parameter")


async def test_nul_and_nesting_on_twin_routes(client):
    r = await client.post("/twin/query_clusters", json={"query": "retired \x00 boomers"})
    _refused(r, 400, "query", "NUL")
    deep = "[" * 10_000 + "]" * 10_000
    r = await client.post("/twin/query_clusters", content=deep, headers={"content-type": "application/json"})
    _refused(r, 400, "nested too deeply")


@pytest.mark.parametrize(
    "path",
    ["/accounts", "/accounts/1/posts", "/personas/1/create", "/personas/1/chat", "/personas/batch/create"],
)
async def test_json_nested_ten_thousand_deep_on_ghostwriter_routes(client, path):
    deep = '{"a": ' * 10_000 + "1" + "}" * 10_000
    r = await client.post(GW + path, headers={**HEADERS, "content-type": "application/json"}, content=deep)
    _refused(r, 400, "nested too deeply")
    r = await client.post(GW + path, headers=HEADERS, content="[" * 10_000 + "]" * 10_000)  # no content type
    _refused(r, 400, "nested too deeply")


async def test_numbers_beyond_64_bits(services, client, script):
    script.responder = builder_responder
    account = sample_account(0)
    await add_account(client, account, account["posts"][:20])
    aid = account["account_id"]
    r = await client.post(f"{GW}/personas/{aid}/create", headers=HEADERS, json={})
    assert r.status_code == 200, r.text
    for version in ("9223372036854775808", "2147483648", "-9223372036854775809", "0", "99999999999999999999999"):
        r = await client.post(f"{GW}/personas/{aid}/rollback/{version}", headers=HEADERS)
        _refused(r, 400, f"Version {int(version)} not found in history")
    assert (await client.get(f"{GW}/personas/{aid}", headers=HEADERS)).json()["persona"]["version"] == 1
    r = await client.get(f"{GW}/personas/{aid}/history?limit=9223372036854775808", headers=HEADERS)
    _refused(r, 400, "limit")
    post = {"id": "big", "text": "t", "created_at": "2025-01-15T10:30:00Z", "likes": 2**70}
    r = await client.post(f"{GW}/accounts/{aid}/posts", headers=HEADERS, json={"posts": [post]})
    assert 400 <= r.status_code < 500, r.text
    assert await _count(services, "SELECT count(*) FROM posts WHERE id = 'big'") == 0
    r = await client.post(f"{GW}/personas/{aid}/chat", headers=HEADERS, json={"message": "hi", "max_tokens": 2**64})
    _refused(r, 400, "max_tokens")
    r = await client.get("/twin/cluster/9223372036854775808/personas")
    assert 400 <= r.status_code < 500 and "detail" in r.json(), r.text
    uid = await make_user(services, "carol", "builder")
    headers = await login(client, "carol")
    pid = await build(client, headers, uid)
    r = await client.post(f"/studio/personas/{pid}/rollback/9223372036854775808", headers=headers)
    assert r.status_code == 422 and "detail" in r.json(), r.text
    r = await client.get("/studio/personas/9223372036854775808/message_history", headers=headers)
    _refused(r, 404, "Persona not found")


async def test_csv_import_with_a_200000_character_field(services, client):
    account = sample_account(0)
    await add_account(client, account)
    aid = account["account_id"]
    body = "id,text,created_at\np1,short,2025-01-15T10:30:00Z\np2," + "x" * 200_000 + ",2025-01-15T10:31:00Z\n"
    r = await client.post(
        f"{GW}/accounts/{aid}/posts", headers={**HEADERS, "content-type": "text/csv"}, content=body.encode()
    )
    _refused(r, 400, "CSV")
    # a field the csv module reads but over GHOSTWRITER_MAX_POST_CHARS (500 here)
    body = "id,text,created_at\np1,short,2025-01-15T10:30:00Z\np2," + "y" * 501 + ",2025-01-15T10:31:00Z\n"
    r = await client.post(
        f"{GW}/accounts/{aid}/posts", headers={**HEADERS, "content-type": "text/csv"}, content=body.encode()
    )
    _refused(r, 400, "posts[1].text exceeds 500 character limit")
    assert await _count(services, "SELECT count(*) FROM posts") == 0


async def test_ghostwriter_size_limits(services, client, script):
    account = sample_account(0)
    await add_account(client, account, account["posts"][:3])
    aid = account["account_id"]
    post = {"id": "long", "text": "z" * 501, "created_at": "2025-01-15T10:30:00Z"}
    r = await client.post(f"{GW}/accounts/{aid}/posts", headers=HEADERS, json={"posts": [post]})
    _refused(r, 400, "posts[0].text exceeds 500 character limit")
    r = await client.post(f"{GW}/accounts/{aid}/posts", headers=HEADERS, json={"posts": [{**post, "text": "z" * 500}]})
    assert r.status_code == 200, r.text
    # a body over MAX_REQUEST_BYTES (2 MB here; a 20 MB post text is refused the same way by default)
    r = await client.post(
        f"{GW}/accounts/{aid}/posts", headers=HEADERS, json={"posts": [{**post, "id": "huge", "text": "h" * 3_000_000}]}
    )
    _refused(r, 413, "larger than the limit of 2000000 bytes")
    assert await _count(services, "SELECT count(*) FROM posts WHERE account_id = %s", aid) == 4

    script.responder = builder_responder
    r = await client.post(f"{GW}/personas/{aid}/create", headers=HEADERS, json={})
    assert r.status_code == 200, r.text
    r = await client.post(f"{GW}/personas/{aid}/chat", headers=HEADERS, json={"message": "m" * 301, "stream": False})
    _refused(r, 400, "message exceeds 300 character limit")
    history = [{"role": "user", "content": "c" * 301}]
    r = await client.post(
        f"{GW}/personas/{aid}/chat",
        headers=HEADERS,
        json={"message": "hi", "conversation_history": history, "stream": False},
    )
    _refused(r, 400, "conversation_history[0].content exceeds 300 character limit")
    script.responder = None
    script.replies = ["ok then"]
    r = await client.post(f"{GW}/personas/{aid}/chat", headers=HEADERS, json={"message": "m" * 300, "stream": False})
    assert r.status_code == 200, r.text


async def test_default_limits_refuse_a_20_mb_post_text_and_store_nothing(
    fresh_db_url, tmp_path, local_embeddings, script
):
    from runtime.services import Services
    from server.app import create_app
    from tests.conftest import app_client

    settings = ghostwriter_settings(fresh_db_url, tmp_path)
    assert settings.ghostwriter_max_post_chars == 25_000
    svc = Services.create(settings)
    svc.embeddings = local_embeddings
    await svc.start(with_model=False, with_embeddings=False)
    try:
        app = create_app(settings, services=svc, start_model=False, start_embeddings=False)
        async with app_client(app) as client:
            account = sample_account(1)
            await add_account(client, account)
            post = {"id": "p20", "text": "w" * 20_000_000, "created_at": "2025-01-15T10:30:00Z"}
            r = await client.post(
                f"{GW}/accounts/{account['account_id']}/posts",
                headers={**HEADERS, "content-type": "application/json"},
                content=json.dumps({"posts": [post]}).encode(),
            )
            _refused(r, 400, "posts[0].text exceeds 25000 character limit")
            post["text"] = "w" * 25_001
            r = await client.post(f"{GW}/accounts/{account['account_id']}/posts", headers=HEADERS, json=[post])
            _refused(r, 400, "exceeds 25000 character limit")
            assert await _count(svc, "SELECT count(*) FROM posts") == 0
    finally:
        await svc.stop()
