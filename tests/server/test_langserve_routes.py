"""LangServe invoke and stream of persona_chat on a real uvicorn on 127.0.0.1."""

import json

import httpx

from store.personas import create_persona


def _payload(pid: int, text: str, thread: str | None = None) -> dict:
    configurable = {"model": "fake:scripted"}
    if thread:
        configurable["thread_id"] = thread
    return {
        "input": {"persona_id": pid, "messages": [{"type": "human", "content": text}]},
        "config": {"configurable": configurable},
    }


async def test_invoke_and_stream_over_http(services, live_app, script):
    pid = await create_persona(services.pool, kind="studio", name="Ada", system_prompt="A poet.")
    script.replies = ["roses are red", "violets are blue"]
    with live_app() as server:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            invoked = http.post("/graphs/persona_chat/invoke", json=_payload(pid, "a poem", "th-1"))
            assert invoked.status_code == 200, invoked.text
            assert invoked.json()["output"]["reply"] == "roses are red"

            events = []
            with http.stream("POST", "/graphs/persona_chat/stream", json=_payload(pid, "another", "th-1")) as resp:
                assert resp.status_code == 200
                for line in resp.iter_lines():
                    if line.startswith("data: "):
                        events.append(json.loads(line[6:]))
            finals = [e["finalize"] for e in events if isinstance(e, dict) and "finalize" in e]
            assert finals and finals[0]["reply"] == "violets are blue"
            # the second call continued the same thread: the model saw the first exchange
            assert [m.content for m in script.calls[1][1:]] == ["a poem", "roses are red", "another"]

            health = http.get("/health")
            assert health.status_code == 200
            assert health.json()["checks"]["database"]["ok"] is True


async def test_playground_only_in_dev_mode(services, live_app, settings):
    with live_app() as server:
        assert httpx.get(f"{server.url}/graphs/persona_chat/playground/", timeout=10).status_code == 404
    dev = settings.model_copy(update={"dev_mode": True})
    with live_app(dev) as server:
        assert httpx.get(f"{server.url}/graphs/persona_chat/playground/", timeout=10).status_code == 200


async def test_langserve_threads_cannot_reach_rest_conversations(services, live_app, script):
    """A REST conversation id used as thread_id on /graphs lands in a separate namespace."""
    from graphs.persona_chat.graph import build_persona_chat

    pid = await create_persona(services.pool, kind="studio", name="Ada", system_prompt="A poet.")
    graph = build_persona_chat(services.checkpointer)
    script.replies = ["private reply", "public reply"]
    from langchain_core.messages import HumanMessage

    from graphs.persona_chat.context import ChatContext

    await graph.ainvoke(
        {"persona_id": pid, "messages": [HumanMessage("my secret is 42")]},
        {"configurable": {"thread_id": "history-123"}},
        context=ChatContext(model="fake:scripted"),
    )
    with live_app() as server:
        resp = httpx.post(
            f"{server.url}/graphs/persona_chat/invoke",
            json=_payload(pid, "what is my secret?", "history-123"),
            timeout=30,
        )
    assert resp.status_code == 200
    assert [m.content for m in script.calls[1][1:]] == ["what is my secret?"]
    private = await graph.aget_state({"configurable": {"thread_id": "history-123"}})
    assert [m.content for m in private.values["messages"]] == ["my secret is 42", "private reply"]


async def test_graphs_api_key_when_configured(services, live_app, settings, script):
    from pydantic import SecretStr

    pid = await create_persona(services.pool, kind="studio", name="Ada", system_prompt="A poet.")
    script.replies = ["hello"]
    locked = settings.model_copy(update={"graphs_api_key": SecretStr("s3cret-key")})
    with live_app(locked) as server:
        url = f"{server.url}/graphs/persona_chat/invoke"
        assert httpx.post(url, json=_payload(pid, "hi"), timeout=30).status_code == 403
        wrong = httpx.post(url, json=_payload(pid, "hi"), headers={"X-API-Key": "nope"}, timeout=30)
        assert wrong.status_code == 403
        ok = httpx.post(url, json=_payload(pid, "hi"), headers={"X-API-Key": "s3cret-key"}, timeout=30)
        assert ok.status_code == 200, ok.text


async def test_without_a_key_only_loopback_clients_are_served(services, script):
    from server.app import create_app

    pid = await create_persona(services.pool, kind="studio", name="Ada", system_prompt="A poet.")
    script.replies = ["hello", "hello"]
    app = create_app(services.settings, services=services)
    async with app.router.lifespan_context(app):
        for client_host, expected in (("203.0.113.9", 403), ("10.0.0.7", 403), ("127.0.0.1", 200), ("::1", 200)):
            transport = httpx.ASGITransport(app=app, client=(client_host, 40000))
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver", timeout=60) as http:
                r = await http.post("/graphs/persona_chat/invoke", json=_payload(pid, "hi"))
            assert r.status_code == expected, (client_host, r.text)
            if expected == 403:
                assert "GRAPHS_API_KEY" in r.json()["detail"]


async def test_service_errors_reach_langserve_clients_as_one_sentence(services, live_app, script):
    """Our own errors keep their status and short message on /graphs/<name>/invoke (LangServe's
    stream endpoints send their own generic error event instead, by design)."""
    with live_app() as server, httpx.Client(base_url=server.url, timeout=30) as http:
        missing = http.post("/graphs/persona_chat/invoke", json=_payload(987654, "hi"))
        assert missing.status_code == 404
        assert missing.json() == {"detail": "Persona 987654 not found."}
