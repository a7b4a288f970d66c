"""The OpenAI-compatible mount at /v1 over a real uvicorn on loopback, driven by the official
`openai` client and LangChain's `ChatOpenAI`: models per credential, plain and streamed
completions for a studio persona, a ghostwriter and a twin (the persona's prompt first, the
client's system message only as the user's instructions, the history passed, usage), nothing
stored, and every error in OpenAI's shape with its status. Replies come from the scripted model."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import jwt
import openai
import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_openai import ChatOpenAI
from pydantic import SecretStr

from runtime.settings import Settings
from tests.support.ghostwriter import API_KEY, HEADERS, builder_responder, ghostwriter_settings, sample_account
from tests.support.studio import PASSWORD, make_user
from tests.support.twin import small_segments
from use_cases.twin.segment_import import replace_segments

PROFILE = "You are Offie, a cheerful office plant who loves sunlight and gossip about the coffee machine."
INSTRUCTIONS = "Always mention the weather."
REPLY = "I am leafy and glad, thank you."
TWIN_KEY = "twin-key-0123456789abcdef"
ERROR_KEYS = {"message", "type", "param", "code"}


@pytest.fixture
def settings(fresh_db_url, tmp_path) -> Settings:
    return ghostwriter_settings(fresh_db_url, tmp_path)


# ---------------------------------------------------------------- helpers


def _login(http: httpx.Client, username: str) -> str:
    r = http.post("/studio/auth/token", data={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


def _studio_persona(http: httpx.Client, token: str, creator_id: str) -> str:
    r = http.post(
        "/studio/personas/build",
        headers={"Authorization": f"Bearer {token}"},
        json={"persona_name": "Offie", "creator_id": creator_id, "system_prompt": PROFILE},
    )
    assert r.status_code == 200, r.text
    return r.json()["persona_id"]


def _ghostwriter(http: httpx.Client, script) -> tuple[str, str]:
    """A ghostwriter persona built through the ghostwriter API: (account id, its system prompt)."""
    account = sample_account(0)
    r = http.post("/ghostwriter/accounts", headers=HEADERS, json={"id": account["account_id"], "handle": "moonbag_mia"})
    assert r.status_code == 200, r.text
    r = http.post(
        f"/ghostwriter/accounts/{account['account_id']}/posts", headers=HEADERS, json={"posts": account["posts"][:20]}
    )
    assert r.status_code == 200, r.text
    script.responder = builder_responder
    r = http.post(f"/ghostwriter/personas/{account['account_id']}/create", headers=HEADERS, json={})
    assert r.status_code == 200, r.text
    script.responder = None
    script.calls.clear()
    return account["account_id"], r.json()["persona"]["system_prompt"]


def _client(server, api_key: str) -> openai.OpenAI:
    # no retries: a 5xx or 429 must show as it was answered
    return openai.OpenAI(base_url=server.url + "/v1", api_key=api_key, max_retries=0, timeout=120)


def _fake_input_tokens(messages: list[BaseMessage]) -> int:
    """What the scripted model reports as its prompt's tokens (tests/support/fakes.py)."""
    return sum(len(str(m.content).split()) for m in messages)


def _conversation(system: str = INSTRUCTIONS) -> list[dict[str, Any]]:
    return [
        {"role": "system", "content": system},
        {"role": "user", "content": "Hi there"},
        {"role": "assistant", "content": "Hello! Lovely sunlight today."},
        {"role": "user", "content": [{"type": "text", "text": "How are you today?"}]},
    ]


def _check_prompt(prompt: list[BaseMessage], profile: str, instructions: str) -> None:
    """The persona's profile first, in the one system message; the client's system message only
    inside the instructions block below it; the history and the turn as the client sent them."""
    system, *rest = prompt
    assert isinstance(system, SystemMessage)
    text = str(system.content)
    assert text.index(profile) < text.index("Extra instructions from the operator") < text.index(instructions)
    assert [(type(m), m.content) for m in rest] == [
        (HumanMessage, "Hi there"),
        (AIMessage, "Hello! Lovely sunlight today."),
        (HumanMessage, "How are you today?"),
    ]


def _sse_lines(url: str, token: str, body: dict[str, Any]) -> tuple[httpx.Headers, list[str]]:
    with (
        httpx.Client(timeout=120) as http,
        http.stream("POST", url, headers={"Authorization": f"Bearer {token}"}, json=body) as r,
    ):
        assert r.status_code == 200
        return r.headers, [line for line in r.iter_lines() if line]


def _error(r: httpx.Response, status: int, code: str | None, error_type: str, param: str | None = None) -> str:
    """The response is OpenAI's error shape with this status, code, type and param; its message."""
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == ERROR_KEYS, body
    assert (body["error"]["code"], body["error"]["type"], body["error"]["param"]) == (code, error_type, param), body
    return body["error"]["message"]


def _tables_are_empty(services) -> None:
    """No chat history, no checkpointer thread: a completion leaves nothing behind."""
    import psycopg

    with psycopg.connect(services.database_url) as conn:
        for table in ("conversations", "messages", "checkpoints", "checkpoint_writes", "checkpoint_blobs"):
            assert conn.execute(f"SELECT count(*) FROM {table}").fetchone() == (0,), table


# ---------------------------------------------------------------- studio


async def test_studio_persona_through_the_openai_client(live_app, services, script):
    bob_id = await make_user(services, "bob", "builder")
    await make_user(services, "uma", "user")
    with live_app() as server, httpx.Client(base_url=server.url, timeout=120) as http:
        pid = _studio_persona(http, _login(http, "bob"), bob_id)
        uma = _login(http, "uma")  # a plain user chats with bob's persona, as the studio API lets her
        client = _client(server, uma)

        models = client.models.list()
        assert [(m.id, m.object, m.owned_by) for m in models.data] == [(f"studio/{pid}", "model", "studio")]
        assert models.data[0].created > 0 and models.data[0].model_extra == {"name": "Offie"}
        assert client.models.retrieve(f"studio/{pid}").id == f"studio/{pid}"

        script.responder = lambda messages: REPLY
        done = client.chat.completions.create(model=f"studio/{pid}", messages=_conversation())
        assert done.object == "chat.completion" and done.id.startswith("chatcmpl-") and done.model == f"studio/{pid}"
        assert len(done.choices) == 1
        choice = done.choices[0]
        assert (choice.message.role, choice.message.content, choice.finish_reason) == ("assistant", REPLY, "stop")
        _check_prompt(script.calls[0], PROFILE, INSTRUCTIONS)
        # the scripted model's own figures, as the graph recorded them
        assert done.usage is not None
        assert (done.usage.prompt_tokens, done.usage.completion_tokens, done.usage.total_tokens) == (
            _fake_input_tokens(script.calls[0]),
            len(REPLY.split()),
            _fake_input_tokens(script.calls[0]) + len(REPLY.split()),
        )

        script.calls.clear()
        chunks = list(
            client.chat.completions.create(
                model=f"studio/{pid}",
                messages=_conversation(),
                stream=True,
                stream_options={"include_usage": True},
                temperature=0.3,
                max_tokens=64,
            )
        )
        _check_prompt(script.calls[0], PROFILE, INSTRUCTIONS)
        assert {c.id for c in chunks} == {chunks[0].id} and all(c.object == "chat.completion.chunk" for c in chunks)
        assert chunks[0].choices[0].delta.role == "assistant"
        assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == REPLY
        assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]
        *_, stop, last = chunks
        assert stop.choices[0].finish_reason == "stop" and stop.usage is None
        assert last.choices == [] and last.usage is not None
        assert last.usage.prompt_tokens > 0 and last.usage.completion_tokens > 0
        assert last.usage.total_tokens == last.usage.prompt_tokens + last.usage.completion_tokens

        headers, lines = _sse_lines(
            server.url + "/v1/chat/completions",
            uma,
            {"model": f"studio/{pid}", "messages": _conversation(), "stream": True},
        )
        assert headers["content-type"].startswith("text/event-stream")
        assert all(line.startswith("data: ") for line in lines) and lines[-1] == "data: [DONE]"
        assert '"usage"' not in "".join(lines)  # only when asked for

    _tables_are_empty(services)


# ---------------------------------------------------------------- ghostwriter


async def test_ghostwriter_through_the_openai_client_and_langchain(live_app, services, script):
    script.responder = lambda messages: REPLY
    with live_app() as server, httpx.Client(base_url=server.url, timeout=120) as http:
        aid, profile = _ghostwriter(http, script)
        script.responder = lambda messages: REPLY
        client = _client(server, API_KEY)
        assert [(m.id, m.owned_by, m.model_extra) for m in client.models.list().data] == [
            (f"ghostwriter/{aid}", "ghostwriter", {"name": "@moonbag_mia"})
        ]

        done = client.chat.completions.create(model=f"ghostwriter/{aid}", messages=_conversation())
        assert done.choices[0].message.content == REPLY and done.choices[0].finish_reason == "stop"
        _check_prompt(script.calls[0], profile, INSTRUCTIONS)
        assert done.usage is not None and done.usage.completion_tokens == len(REPLY.split())
        assert done.usage.prompt_tokens == _fake_input_tokens(script.calls[0])

        stream = client.chat.completions.create(
            model=f"ghostwriter/{aid}",
            messages=_conversation(),
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = list(stream)
        assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == REPLY
        assert chunks[-1].choices == [] and chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0

        script.calls.clear()
        llm = ChatOpenAI(
            model=f"ghostwriter/{aid}",
            base_url=server.url + "/v1",
            api_key=SecretStr(API_KEY),
            max_retries=0,
            max_tokens=64,
            stream_usage=True,
        )
        prompt = [
            SystemMessage(INSTRUCTIONS),
            HumanMessage("Hi there"),
            AIMessage("Hello! Lovely sunlight today."),
            HumanMessage("How are you today?"),
        ]
        answer = llm.invoke(prompt)
        assert answer.content == REPLY
        assert answer.usage_metadata is not None and answer.usage_metadata["output_tokens"] == len(REPLY.split())
        _check_prompt(script.calls[0], profile, INSTRUCTIONS)
        pieces = list(llm.stream(prompt))
        assert "".join(str(p.content) for p in pieces) == REPLY
        assert any(p.usage_metadata and p.usage_metadata["total_tokens"] > 0 for p in pieces)

    _tables_are_empty(services)


async def test_spent_ghostwriter_budget_is_a_429_that_sdks_do_not_retry(live_app, settings, script):
    with live_app(settings.model_copy(update={"bo_budget_tokens": 40})) as server:
        with httpx.Client(base_url=server.url, timeout=120) as http:
            aid, _ = _ghostwriter(http, script)
            r = http.post(
                "/v1/chat/completions",
                headers={"Authorization": f"Bearer {API_KEY}"},
                json={"model": f"ghostwriter/{aid}", "messages": [{"role": "user", "content": "gm"}]},
            )
        assert _error(r, 429, "budget_exceeded", "insufficient_quota") == "Budget limit exceeded"
        assert r.headers["x-should-retry"] == "false"
        with pytest.raises(openai.RateLimitError) as info:
            openai.OpenAI(base_url=server.url + "/v1", api_key=API_KEY).chat.completions.create(
                model=f"ghostwriter/{aid}", messages=[{"role": "user", "content": "gm"}]
            )
    assert info.value.code == "budget_exceeded"
    assert script.calls == []  # refused before the model was asked


# ---------------------------------------------------------------- twins


async def test_twins_are_open_unless_the_twin_api_has_a_key(live_app, settings, services, script):
    segments = small_segments()
    await replace_segments(services.pool, segments, services.embeddings)
    script.responder = lambda messages: "I keep busy with work and family."
    with live_app() as server:
        client = _client(server, "any-placeholder")  # chat UIs insist on some key
        ids = [m.id for m in client.models.list().data]
        assert len(ids) == len(segments.personas) and all(i.startswith("twin/") for i in ids)
        done = client.chat.completions.create(
            model=ids[0],
            messages=[{"role": "system", "content": INSTRUCTIONS}, {"role": "user", "content": "Where do you reside?"}],
        )
        assert done.choices[0].message.content == "I keep busy with work and family."
        system = str(script.calls[0][0].content)
        name = client.models.retrieve(ids[0]).model_extra["name"]
        assert name.split(" (")[0] in system and system.index("Persona profile") < system.index(INSTRUCTIONS)
        chunks = list(
            client.chat.completions.create(
                model=ids[0],
                messages=[{"role": "user", "content": "Hi"}],
                stream=True,
                stream_options={"include_usage": True},
            )
        )
        assert (
            "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
            == "I keep busy with work and family."
        )
        assert chunks[-1].usage is not None
        with httpx.Client(base_url=server.url, timeout=60) as http:
            assert http.get("/v1/models").status_code == 200  # no key at all is fine too

    keyed = settings.model_copy(update={"twin_api_key": SecretStr(TWIN_KEY)})
    with live_app(keyed) as server, httpx.Client(base_url=server.url + "/v1", timeout=60) as http:
        message = _error(http.get("/models"), 401, "invalid_api_key", "invalid_request_error")
        assert "bearer token" in message
        r = http.get("/models", headers={"Authorization": "Bearer any-placeholder"})
        _error(r, 401, "invalid_api_key", "invalid_request_error")
        assert r.headers["www-authenticate"] == "Bearer"
        assert len(_client(server, TWIN_KEY).models.list().data) == len(segments.personas)
        assert _client(server, API_KEY).models.list().data == []  # the ghostwriter key: no ghostwriters yet
        r = http.post(
            "/chat/completions",
            headers={"Authorization": f"Bearer {API_KEY}"},
            json={"model": ids[0], "messages": [{"role": "user", "content": "Hi"}]},
        )
        assert _error(r, 403, "model_not_allowed", "permission_error", "model").endswith("twin models.")
    _tables_are_empty(services)


# ---------------------------------------------------------------- errors


def _forged(secret: str) -> str:
    now = int(time.time())
    claims = {"sub": "x", "role": "admin", "iss": "persona-service", "aud": "persona-service-api"}
    return jwt.encode({**claims, "iat": now, "exp": now + 600, "jti": "j"}, secret, algorithm="HS256")


def _failing(messages):
    raise ConnectionError("upstream said 500 at https://internal.example/v1 key=sk-secret")


async def test_errors_have_openai_shape_and_status(live_app, settings, services, script):
    bob_id = await make_user(services, "bob", "builder")
    await make_user(services, "uma", "user")
    # one chat at a time, to see the busy answer
    with live_app(settings.model_copy(update={"chat_max_concurrent": 1})) as server:
        with httpx.Client(base_url=server.url, timeout=120) as http:
            pid = _studio_persona(http, _login(http, "bob"), bob_id)
            uma = {"Authorization": f"Bearer {_login(http, 'uma')}"}
            ghostwriter = {"Authorization": f"Bearer {API_KEY}"}
            model = f"studio/{pid}"

            def post(body: dict[str, Any], headers: dict[str, str] = uma) -> httpx.Response:
                return http.post("/v1/chat/completions", headers=headers, json=body)

            hello = [{"role": "user", "content": "Hello"}]
            # credentials
            forged = {"Authorization": f"Bearer {_forged('y' * 48)}"}
            message = _error(http.get("/v1/models", headers=forged), 401, "invalid_api_key", "invalid_request_error")
            assert message == "Invalid studio access token: Invalid token signature"
            # models: unknown, malformed, another API's
            for unknown in ("gpt-4o", "studio/999999", "studio/abc", "twin/1", "ghostwriter/nobody", "studio/"):
                headers = ghostwriter if unknown.startswith("ghostwriter") else uma
                r = post({"model": unknown, "messages": hello}, headers)
                assert _error(r, 404, "model_not_found", "invalid_request_error", "model") == (
                    f"The model '{unknown}' does not exist or you do not have access to it."
                )
            _error(
                http.get(f"/v1/models/studio/{pid}", headers=ghostwriter),
                403,
                "model_not_allowed",
                "permission_error",
                "model",
            )
            _error(
                http.get("/v1/models/studio/999999", headers=uma),
                404,
                "model_not_found",
                "invalid_request_error",
                "model",
            )
            r = post({"model": model, "messages": hello}, ghostwriter)
            assert _error(r, 403, "model_not_allowed", "permission_error", "model").endswith("studio models.")
            _error(
                post({"model": "ghostwriter/x", "messages": hello}),
                403,
                "model_not_allowed",
                "permission_error",
                "model",
            )
            # requests
            bad = [
                ({"model": model, "messages": [{"role": "system", "content": "Be nice"}]}, "messages", "invalid_value"),
                (
                    {"model": model, "messages": [*hello, {"role": "tool", "content": "x"}]},
                    "messages[1].role",
                    "invalid_value",
                ),
                (
                    {
                        "model": model,
                        "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}],
                    },
                    "messages[0].content",
                    "invalid_value",
                ),
                (
                    {"model": model, "messages": [*hello, {"role": "assistant", "content": "Hi"}]},
                    "messages[1]",
                    "invalid_value",
                ),
                (
                    {"model": model, "messages": [{"role": "user", "content": "  "}]},
                    "messages[0].content",
                    "invalid_value",
                ),
                ({"model": model, "messages": hello, "temperature": 3}, "temperature", "invalid_value"),
                ({"model": model, "messages": hello, "n": 2}, "n", "invalid_value"),
                ({"model": model, "messages": []}, "messages", "invalid_value"),
                ({"messages": hello}, "model", "missing_required_parameter"),
                (
                    {"model": model, "messages": [{"role": "system", "content": "x" * 2001}, *hello]},
                    "messages",
                    "invalid_value",
                ),
            ]
            for body, param, code in bad:
                _error(post(body), 400, code, "invalid_request_error", param)
            r = http.post("/v1/chat/completions", headers={**uma, "Content-Type": "application/json"}, content=b"{nope")
            _error(r, 400, "invalid_json", "invalid_request_error")
            assert script.calls == []  # none of these reached the model

            # the model provider fails: 502, or an error event in a stream; no internals either way
            script.responder = _failing
            r = post({"model": model, "messages": hello})
            assert (
                _error(r, 502, "upstream_error", "server_error") == "The model provider failed to generate a response"
            )
            _, lines = _sse_lines(
                server.url + "/v1/chat/completions",
                uma["Authorization"][7:],
                {"model": model, "messages": hello, "stream": True},
            )
            assert lines[-2].startswith('data: {"error": {') and '"code": "upstream_error"' in lines[-2]
            assert lines[-1] == "data: [DONE]"
            assert "sk-secret" not in r.text + "".join(lines) and "internal.example" not in r.text + "".join(lines)
            with pytest.raises(openai.APIError, match="model provider failed"):
                list(
                    _client(server, uma["Authorization"][7:]).chat.completions.create(
                        model=model, messages=hello, stream=True
                    )
                )

            # busy: the one chat slot is taken
            entered, release = threading.Event(), threading.Event()

            def slow(messages):
                entered.set()
                release.wait(120)
                return "Slowly, but here."

            script.responder = slow
            with ThreadPoolExecutor(1) as pool:
                first = pool.submit(post, {"model": model, "messages": hello})
                assert entered.wait(120)
                r = post({"model": model, "messages": hello})
                release.set()
                assert first.result().json()["choices"][0]["message"]["content"] == "Slowly, but here."
            _error(r, 503, "service_unavailable", "server_error")
            assert r.headers["retry-after"] == "1"

            # the rest of the app keeps its own error bodies
            assert http.get("/studio/personas/owned").json() == {
                "detail": "Not authenticated: send an 'Authorization: Bearer <token>' header"
            }
    _tables_are_empty(services)
