"""A request whose client has gone stops its work: a real uvicorn on loopback, real TCP clients
that close their sockets, and a slow OpenAI-compatible model on loopback that logs whether each
call's connection was closed before its answer ended (the service cancelled the call).

Every model call here would take minutes to finish, so a call that ends at all while the test
waits was closed by the service: nothing is asserted on time."""

from __future__ import annotations

import asyncio
import json
import logging

import httpx
import pytest

from bench.stub_openai import Behaviour
from runtime.settings import Settings
from tests.server.ghostwriter.test_load_shedding import _live, make_persona, stub_settings, wait_until
from tests.support.ghostwriter import API_KEY, HEADERS, add_account, sample_account
from tests.support.upstream_log import logged_stub

SLOW = 0.3  # seconds between the stub's tokens (a non-streamed answer waits as long as streaming it)
LONG = 1000  # tokens: an answer that takes minutes


@pytest.fixture
def upstream():
    stub, calls = logged_stub(Behaviour(tokens=40))
    yield stub, calls
    stub.stop()


@pytest.fixture
def settings(fresh_db_url, tmp_path, upstream) -> Settings:
    """The conftest's settings with the logged stub as the chat model and a ghostwriter API key."""
    stub, _ = upstream
    return stub_settings(fresh_db_url, tmp_path, stub, bo_budget_tokens=100_000_000)


async def post_then_leave(port: int, path: str, body: dict, *, until: bytes | None = None) -> None:
    """POST over a raw TCP socket, read until `until` appears (None: read nothing), then close the
    socket as a client that gives up does."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    data = json.dumps(body).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"X-API-Key: {HEADERS['X-API-Key']}\r\nContent-Length: {len(data)}\r\n\r\n"
    )
    writer.write(head.encode() + data)
    await writer.drain()
    seen = b""
    while until is not None and until not in seen:
        chunk = await reader.read(4096)
        assert chunk, f"the server closed the connection first: {seen[-500:]!r}"
        seen += chunk
    writer.close()


async def test_ten_streams_left_after_their_first_delta_close_their_upstream_calls(live_app, upstream, fresh_db_url):
    stub, calls = upstream
    with live_app() as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
            aid = await make_persona(client)
        stub.behaviour.tokens, stub.behaviour.delay = LONG, SLOW
        chat = {"message": "tell me about your week", "max_tokens": LONG}
        before = len(calls.calls)
        await asyncio.gather(
            *(
                post_then_leave(server.port, f"/ghostwriter/personas/{aid}/chat", chat, until=b'"text_delta"')
                for _ in range(10)
            )
        )
        streams = calls.calls[before:]
        assert len(streams) == 10 and all(c.body.get("stream") for c in streams)
        await wait_until(
            lambda: all(c.closed_early for c in streams),
            lambda: f"{sum(c.closed_early for c in streams)} of 10 upstream streams closed",
        )
        assert not any(c.completed for c in streams)
        await wait_until(lambda: _live(fresh_db_url, 0), "every turn's budget reservation was settled")


async def test_a_chat_whose_client_leaves_mid_call_closes_the_call(live_app, upstream, caplog, fresh_db_url):
    stub, calls = upstream
    caplog.set_level(logging.INFO, logger="server.disconnect")
    with live_app() as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
            aid = await make_persona(client)
        stub.behaviour.tokens, stub.behaviour.delay = LONG, SLOW
        marker = "waiting for this one"
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        data = json.dumps({"message": marker, "max_tokens": LONG, "stream": False}).encode()
        writer.write(
            (
                f"POST /ghostwriter/personas/{aid}/chat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                f"X-API-Key: {API_KEY}\r\nContent-Length: {len(data)}\r\n\r\n"
            ).encode()
            + data
        )
        await writer.drain()
        await wait_until(lambda: any(c.open for c in calls.about(marker)), "the model call started")
        writer.close()
        await wait_until(lambda: not any(c.open for c in calls.about(marker)), "the model call was closed")
        assert [c.closed_early for c in calls.about(marker)] == [True]
        await wait_until(lambda: _live(fresh_db_url, 0), "the turn's budget reservation was settled")
        # the server still answers, on a new connection
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
            assert (await client.get("/health")).status_code in (200, 503)
    assert any("client left before the answer" in r.getMessage() and "/chat" in r.getMessage() for r in caplog.records)


async def test_a_survey_whose_client_leaves_stops_calling_the_model(live_app, upstream, twins):
    stub, calls = upstream
    abandoned, later = "Which colour do you like best?", "Which season do you like best?"
    ids = [c.key for c in twins.clusters]
    survey = {"options": ["Red", "Blue", "Green"], "cluster_ids": ids, "check_facts": False}
    with live_app() as server:
        stub.behaviour.delay = 120.0  # each survey answer (one token) takes two minutes
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        data = json.dumps({**survey, "question": abandoned}).encode()
        writer.write(
            (
                f"POST /twin/survey HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(data)}\r\n\r\n"
            ).encode()
            + data
        )
        await writer.drain()
        await wait_until(lambda: len(calls.about(abandoned)) > 1, "the survey's model calls started")
        writer.close()
        await wait_until(
            lambda: not any(c.open for c in calls.about(abandoned)),
            lambda: f"{sum(c.open for c in calls.about(abandoned))} survey calls still open",
        )
        asked = calls.about(abandoned)
        assert asked and all(c.closed_early for c in asked)
        assert len(asked) < 45  # 45 personas: the survey did not run on
        # a whole survey by another client afterwards: the abandoned one starts no call meanwhile
        stub.behaviour.delay = 0.0
        async with httpx.AsyncClient(base_url=server.url, timeout=120) as client:
            r = await client.post("/twin/survey", json={**survey, "question": later})
        assert r.status_code == 200, r.text
        assert sum(c["n_answers"] for c in r.json()["clusters"]) == 45
        assert len(calls.about(abandoned)) == len(asked)


async def test_requests_with_and_without_bodies_are_answered_as_before(live_app, upstream):
    """A long body, which arrives in many pieces, still reaches the app whole; requests without
    a body are answered as before."""
    account = sample_account(0)
    posts = [{**post, "text": post["text"] + " " + "x" * 20_000} for post in account["posts"][:20]]
    with live_app() as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
            await add_account(client, account)
            imported = await client.post(
                f"/ghostwriter/accounts/{account['account_id']}/posts", headers=HEADERS, json={"posts": posts}
            )
            listed = await client.get("/ghostwriter/personas/list", headers=HEADERS)
    assert imported.status_code == 200, imported.text
    assert imported.json()["received"] == imported.json()["inserted"] == 20
    assert listed.status_code == 200


async def test_a_studio_chat_left_mid_call_leaves_no_trace_in_its_history(live_app, upstream, services):
    """The turn's question is not kept in the chat's memory: the next turn's prompt lacks it."""
    from tests.support.studio import build, login, make_user

    stub, calls = upstream
    uid = await make_user(services, "builder", "builder")
    with live_app() as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
            headers = await login(client, "builder")
            pid = await build(client, headers, uid)
            chat = f"/studio/personas/{pid}/chat"
            first = await client.post(chat, headers=headers, json={"content": "First question"})
            assert first.status_code == 200, first.text
            hid = first.json()["message_history_id"]
            stub.behaviour.tokens, stub.behaviour.delay = LONG, SLOW
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            data = json.dumps({"message_history_id": hid, "content": "Abandoned question"}).encode()
            writer.write(
                (
                    f"POST {chat} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    f"Authorization: {headers['Authorization']}\r\nContent-Length: {len(data)}\r\n\r\n"
                ).encode()
                + data
            )
            await writer.drain()
            await wait_until(lambda: any(c.open for c in calls.about("Abandoned question")), "the model was asked")
            writer.close()
            await wait_until(lambda: not any(c.open for c in calls.about("Abandoned question")), "the call was closed")
            stub.behaviour.tokens, stub.behaviour.delay = 5, 0.0
            third = await client.post(
                chat, headers=headers, json={"message_history_id": hid, "content": "Third question"}
            )
            assert third.status_code == 200, third.text
            history = await client.get(f"/studio/personas/{pid}/message_history", headers=headers)
    asked = calls.about("Third question")
    assert asked and all("First question" in json.dumps(c.body) for c in asked)  # the history is in the prompt
    assert not any(c.mentions("Abandoned question") for c in asked)
    assert "Abandoned question" not in history.text
