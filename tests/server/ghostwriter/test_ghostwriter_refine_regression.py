"""Regression: create, create again, then refine with post_limit 50 answered a 5xx (formerly 502)
against a Postgres that closes idle sessions.

The pool kept connections the server had closed while they sat idle (`idle_session_timeout`, a
restart, a proxy's idle cut) and handed one to the refine, whose first query (`load_posts`) then
failed with `terminating connection due to idle-session timeout`, before any model call. The pool
now checks a connection before handing it out and replaces a closed one.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest
from psycopg.conninfo import conninfo_to_dict

from runtime.settings import Settings
from tests.support.ghostwriter import HEADERS, add_account, builder_responder, ghostwriter_settings, sample_account

GW = "/ghostwriter"
IDLE_SESSION_TIMEOUT = 1.0  # seconds


@pytest.fixture
def settings(pg_server, fresh_db_url, tmp_path) -> Settings:
    """A database whose server ends every session idle for more than a second, as a standalone
    server (or a proxy in front of one) may."""
    name = conninfo_to_dict(fresh_db_url)["dbname"]
    pg_server.psql(f"ALTER DATABASE {name} SET idle_session_timeout = '{int(IDLE_SESSION_TIMEOUT * 1000)}ms';")
    return ghostwriter_settings(fresh_db_url, tmp_path)


async def _idle() -> None:
    """Long enough for the server to close every connection resting in the pool."""
    await asyncio.sleep(IDLE_SESSION_TIMEOUT + 1.0)


async def test_refine_after_the_server_closed_idle_connections(live_app, script):
    """Through a real server on loopback, as the report ran it."""
    script.responder = builder_responder
    with live_app() as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
            await _lifecycle(client, script)


async def _lifecycle(client: httpx.AsyncClient, script) -> None:
    account = sample_account(0)
    aid = account["account_id"]
    await add_account(client, account, account["posts"][:100])
    await _idle()

    r = await client.post(f"{GW}/personas/{aid}/create", headers=HEADERS, json={})
    assert r.status_code == 200, r.text
    assert r.json()["persona"]["version"] == 1
    await _idle()

    r = await client.post(f"{GW}/personas/{aid}/create", headers=HEADERS, json={})
    assert r.status_code == 400, r.text
    assert r.json()["detail"].startswith("Persona already exists")
    await _idle()

    calls = len(script.calls)
    r = await client.post(f"{GW}/personas/{aid}/refine", headers=HEADERS, json={"post_limit": 50})
    assert r.status_code == 200, r.text
    refined = r.json()["persona"]
    assert refined["version"] == 2
    assert refined["posts_analyzed_count"] == 50
    assert len(script.calls) > calls  # the refine reached the model this time
