"""Load and faults on the ghostwriter chat, over real HTTP against a stub OpenAI-compatible model on
loopback: shedding with a JSON 503 + Retry-After before any work, every stream ends with [DONE],
a client that goes away cancels the model call upstream and is charged what was generated, and
the budget is settled however a turn ends."""

from __future__ import annotations

import asyncio
import json

import httpx
import psycopg
import pytest
from psycopg.rows import dict_row
from pydantic import SecretStr

from bench.stub_openai import Behaviour, StubOpenAI
from runtime.services import Services
from runtime.settings import Settings
from store import budgets
from tests.conftest import LiveServer
from tests.support.ghostwriter import API_KEY, HEADERS, add_account, sample_account
from use_cases.ghostwriter.errors import PROVIDER_FAILED

GW = "/ghostwriter"
KEY_HASH = budgets.key_hash(API_KEY.encode())


@pytest.fixture
def stub():
    server = StubOpenAI(behaviour=Behaviour(tokens=40)).start()
    yield server
    server.stop()


def stub_settings(database_url: str, tmp_path, stub: StubOpenAI, **extra) -> Settings:
    return Settings(
        _env_file=None,
        database_url=database_url,
        data_dir=tmp_path / "data",
        chat_model="openai:stub",
        openai_base_url=stub.url,
        openai_api_key=SecretStr("stub-key"),
        jwt_secret="x" * 48,
        twin_demo_autoload=False,
        bo_api_key=SecretStr(API_KEY),
        **extra,
    )


def serve(settings: Settings, local_embeddings) -> LiveServer:
    from server.app import create_app

    services = Services.create(settings)
    services.embeddings = local_embeddings
    return LiveServer(create_app(settings, services=services, start_model=False, start_embeddings=False))


async def make_persona(client: httpx.AsyncClient) -> str:
    account = sample_account(0)
    await add_account(client, account, account["posts"][:20])
    r = await client.post(f"{GW}/personas/{account['account_id']}/create", headers=HEADERS, json={})
    assert r.status_code == 200, r.text
    return account["account_id"]


async def wait_until(check, what, attempts: int = 600) -> None:
    """Poll `check` (sync or async) until true; fails naming `what` (a string or a function
    giving one) after `attempts` tries."""
    for _ in range(attempts):
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"never happened: {what() if callable(what) else what}")


def sse_payloads(text: str) -> list[str]:
    return [line[len("data: ") :] for line in text.splitlines() if line.startswith("data: ")]


async def test_client_disconnect_cancels_the_model_call_and_charges_what_was_generated(
    fresh_db_url, tmp_path, stub, local_embeddings
):
    settings = stub_settings(fresh_db_url, tmp_path, stub, bo_budget_tokens=1_000_000)
    with serve(settings, local_embeddings) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
            aid = await make_persona(client)
            stub.behaviour.tokens, stub.behaviour.delay = 4000, 0.005
            deltas = 0
            async with client.stream(
                "POST", f"{GW}/personas/{aid}/chat", headers=HEADERS, json={"message": "hi", "max_tokens": 4000}
            ) as response:
                assert response.status_code == 200
                async for line in response.aiter_lines():
                    if '"text_delta"' in line:
                        deltas += 1
                        if deltas == 3:
                            break  # leave: closing the response drops the connection
            assert deltas == 3
            await wait_until(
                lambda: stub.counters.streams_aborted == 1, lambda: f"the stub saw the stream aborted: {stub.counters}"
            )
            assert stub.counters.streams_completed == 0
            generated = stub.counters.tokens_sent
            assert generated < 4000
            await wait_until(lambda: _live(fresh_db_url, 0), "the reservation was settled")
            charged = await budget_used(fresh_db_url)
    # the prompt plus every word the model produced (each at least one token), far below the reservation
    assert charged > generated
    assert charged < 4000


async def budget_used(url: str) -> int:
    """The key's tokens this day (settled plus live reservations), read on a connection of the test's own."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True, row_factory=dict_row) as conn:
        cur = await conn.execute(
            """SELECT COALESCE((SELECT used_tokens FROM api_budgets WHERE key_hash = %(k)s
                                  AND period_start = date_trunc('day', now())), 0)
                    + COALESCE((SELECT sum(tokens) FROM budget_reservations WHERE key_hash = %(k)s
                                  AND expires_at > now()), 0) AS used""",
            {"k": KEY_HASH},
        )
        row = await cur.fetchone()
        return int(row["used"]) if row else 0


async def _live(url: str, expected: int) -> bool:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True, row_factory=dict_row) as conn:
        cur = await conn.execute(
            "SELECT count(*) AS n FROM budget_reservations WHERE key_hash = %s AND expires_at > now()", (KEY_HASH,)
        )
        row = await cur.fetchone()
        return row is not None and row["n"] == expected


async def test_overload_is_shed_with_json_503_and_retry_after_before_any_work(
    fresh_db_url, tmp_path, stub, local_embeddings
):
    settings = stub_settings(fresh_db_url, tmp_path, stub, chat_max_concurrent=2, bo_budget_tokens=1_000_000)
    with serve(settings, local_embeddings) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
            aid = await make_persona(client)
            stub.behaviour.tokens, stub.behaviour.delay = 4000, 0.01
            url = f"{GW}/personas/{aid}/chat"
            requests_before = stub.counters.requests
            open_streams = []
            for _ in range(2):
                response = await client.send(
                    client.build_request("POST", url, headers=HEADERS, json={"message": "hi", "max_tokens": 4000}),
                    stream=True,
                )
                assert response.status_code == 200
                lines = response.aiter_lines()
                while '"text_delta"' not in await anext(lines):
                    pass
                open_streams.append((response, lines))  # both kept: a collected iterator closes the stream
            for stream in (True, False):
                r = await client.post(url, headers=HEADERS, json={"message": "hi", "stream": stream})
                assert r.status_code == 503
                assert r.headers["retry-after"] == "1"
                assert r.json() == {"detail": "The service is busy; try again shortly."}
            # refused before any work: no model call, no reservation
            assert stub.counters.requests == requests_before + 2
            assert await _live(fresh_db_url, 2)
            for response, _ in open_streams:
                await response.aclose()
            await wait_until(
                lambda: stub.counters.streams_aborted == 2,
                lambda: f"both streams were cancelled upstream: {stub.counters}",
            )
            await wait_until(lambda: _live(fresh_db_url, 0), "both reservations were settled")
            stub.behaviour.tokens, stub.behaviour.delay = 5, 0.0
            r = await client.post(url, headers=HEADERS, json={"message": "hi", "stream": False})
            assert r.status_code == 200, r.text


async def test_a_failing_model_ends_the_stream_with_an_error_event_then_done(
    fresh_db_url, tmp_path, stub, local_embeddings
):
    settings = stub_settings(fresh_db_url, tmp_path, stub, bo_budget_tokens=1_000_000)
    with serve(settings, local_embeddings) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
            aid = await make_persona(client)
            stub.behaviour.fail = True
            r = await client.post(f"{GW}/personas/{aid}/chat", headers=HEADERS, json={"message": "hi"})
            assert r.status_code == 200
            payloads = sse_payloads(r.text)
            assert payloads[-1] == "[DONE]"
            errors = [json.loads(p) for p in payloads[:-1] if json.loads(p)["type"] == "error"]
            assert errors == [{"type": "error", "content": PROVIDER_FAILED}]
            r = await client.post(f"{GW}/personas/{aid}/chat", headers=HEADERS, json={"message": "hi", "stream": False})
            assert r.status_code == 502
            assert "Error" not in r.json()["detail"]
            await wait_until(lambda: _live(fresh_db_url, 0), "the failed turns' reservations were settled")


async def test_emoji_are_counted_with_the_models_tokenizer(fresh_db_url, tmp_path, stub, local_embeddings):
    # 350 emoji are over 700 tokens for OpenAI's tokenizers; characters / 4 would make them 88
    settings = stub_settings(fresh_db_url, tmp_path, stub, bo_budget_tokens=600)
    with serve(settings, local_embeddings) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
            aid = await make_persona(client)
            url = f"{GW}/personas/{aid}/chat"
            body = {"message": "\U0001f600" * 350, "stream": False, "max_tokens": 10}
            r = await client.post(url, headers=HEADERS, json=body)
            assert r.status_code == 429, r.text
            stub.behaviour.tokens = 5
            r = await client.post(url, headers=HEADERS, json={"message": "hi", "stream": False, "max_tokens": 10})
            assert r.status_code == 200, r.text


async def test_a_busy_pool_answers_json_503_with_retry_after(
    fresh_db_url, tmp_path, stub, local_embeddings, monkeypatch
):
    from runtime import database
    from server.app import create_app
    from tests.conftest import app_client

    # a database failure an earlier test provoked in this process within FAILURE_MEMORY would make
    # the pool timeout read as the database being down (Retry-After 5): this database never failed
    monkeypatch.setattr(database, "_last_failure", -1e9)
    settings = stub_settings(fresh_db_url, tmp_path, stub, database_pool_max=1, database_pool_timeout=0.3)
    services = Services.create(settings)
    services.embeddings = local_embeddings
    app = create_app(settings, services=services, start_model=False, start_embeddings=False)
    async with app_client(app) as client:
        async with services.pool.connection():  # the only connection is taken
            r = await client.get(f"{GW}/personas/list", headers=HEADERS)
        assert r.status_code == 503
        assert r.headers["retry-after"] == "1"
        assert r.json() == {"detail": "The service is busy; try again shortly."}
        r = await client.get(f"{GW}/personas/list", headers=HEADERS)
        assert r.status_code == 200


async def test_attachment_text_counts_in_the_reservation(fresh_db_url, tmp_path, stub, local_embeddings):
    import base64

    from tests.server.ghostwriter.test_ghostwriter_chat import _tiny_pdf

    settings = stub_settings(fresh_db_url, tmp_path, stub, bo_budget_tokens=1_000_000)
    with serve(settings, local_embeddings) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
            aid = await make_persona(client)
            url = f"{GW}/personas/{aid}/chat"
            stub.behaviour.tokens = 5
            plain = {"message": "hi", "stream": False, "max_tokens": 10}
            assert (await client.post(url, headers=HEADERS, json=plain)).status_code == 200
            await wait_until(lambda: _live(fresh_db_url, 0), "the first turn was settled")
            one_turn = await budget_used(fresh_db_url)
            assert 0 < one_turn < 1000
            # room for about two more plain turns, not for a PDF carrying some 3,000 words
            server_settings = server.server.config.app.state.services.settings
            server_settings.bo_budget_tokens = one_turn + 2 * one_turn + 50
            pdf = "data:application/pdf;base64," + base64.b64encode(_tiny_pdf("report " * 3000)).decode()
            attached = {
                **plain,
                "attachments": [{"type": "file", "data": pdf, "mime_type": "application/pdf", "filename": "r.pdf"}],
            }
            r = await client.post(url, headers=HEADERS, json=attached)
            assert r.status_code == 429, r.text
            assert (await client.post(url, headers=HEADERS, json=plain)).status_code == 200
