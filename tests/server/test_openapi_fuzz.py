"""Schemathesis over the three REST mounts of a real server on loopback: every operation of the
OpenAPI document, with generated valid and invalid requests (a bounded, derandomized number per
operation) and every built-in check: no 5xx, every status and body as the document declares it,
invalid data refused, auth enforced. Model calls go to the scripted fake model."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest
import uvicorn
from pydantic import SecretStr

from runtime.local_llm import free_port
from runtime.services import Services
from server.app import create_app
from tests.support.fakes import Script, install_fake_provider, remove_fake_provider
from tests.support.ghostwriter import API_KEY, HEADERS, builder_responder, ghostwriter_settings, sample_account
from tests.support.paths import DATA, ROOT
from use_cases.studio.security import hash_password

ADMIN_PASSWORD = "fuzzing admin password"
MAX_EXAMPLES = 8


def _seed_admin(database_url: str) -> None:
    import psycopg

    with psycopg.connect(database_url) as conn:
        conn.execute(
            "INSERT INTO users (id, username, password_hash, role) VALUES (%s, 'fuzz-admin', %s, 'admin')",
            (uuid.uuid4().hex, hash_password(ADMIN_PASSWORD)),
        )


def _seed(base: str) -> dict[str, str]:
    """Objects for the generated requests to find, through the API itself; the auth headers."""
    with httpx.Client(base_url=base, timeout=120) as http:
        r = http.post("/studio/auth/token", data={"username": "fuzz-admin", "password": ADMIN_PASSWORD})
        assert r.status_code == 200, r.text
        auth = {"Authorization": f"Bearer {r.json()['access_token']}", **HEADERS}
        account = sample_account(0)
        r = http.post(
            "/ghostwriter/accounts",
            headers=HEADERS,
            json={"id": account["account_id"], "handle": account["handle"]},
        )
        assert r.status_code == 200, r.text
        r = http.post(
            f"/ghostwriter/accounts/{account['account_id']}/posts", headers=HEADERS, json=account["posts"][:20]
        )
        assert r.status_code == 200, r.text
        r = http.post(f"/ghostwriter/personas/{account['account_id']}/create", headers=HEADERS, json={})
        assert r.status_code == 200, r.text
        r = http.post("/studio/collections", headers=auth, json={"name": "docs", "description": "seeded"})
        assert r.status_code == 201, r.text
        return auth


@pytest.fixture(scope="module")
def fuzz_server(pg_server, local_embeddings, tmp_path_factory):
    name = f"t_{uuid.uuid4().hex[:12]}"
    pg_server.psql(f"CREATE DATABASE {name};")
    url = pg_server.get_uri(database=name)
    app_settings = ghostwriter_settings(url, tmp_path_factory.mktemp("fuzz")).model_copy(
        # TWIN_API_KEY set: the twin routes enforce the key their OpenAPI declares (the same header value)
        update={"twin_demo_autoload": True, "twin_api_key": SecretStr(API_KEY)}
    )
    install_fake_provider(Script(responder=builder_responder))
    server = _ThreadServer(app_settings, local_embeddings)
    try:
        with server:
            _seed_admin(url)
            yield server, _seed(server.url)
    finally:
        remove_fake_provider()


class _ThreadServer:
    """Uvicorn on loopback in a thread whose event loop also creates the app's services (their
    checkpointer binds to the loop it is created on)."""

    def __init__(self, app_settings, embeddings) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._settings, self._embeddings = app_settings, embeddings
        self._server: uvicorn.Server | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._serve()), daemon=True)

    async def _serve(self) -> None:
        services = Services.create(self._settings)
        services.embeddings = self._embeddings
        app = create_app(self._settings, services=services, start_model=False, start_embeddings=False)
        self._server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        )
        await self._server.serve()

    def __enter__(self) -> _ThreadServer:
        self._thread.start()
        deadline = time.monotonic() + 300
        while self._server is None or not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc) -> None:
        assert self._server is not None
        self._server.should_exit = True
        self._thread.join(timeout=60)


def test_schemathesis_finds_no_failure_on_the_three_mounts(fuzz_server, tmp_path):
    server, auth = fuzz_server
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "--config-file",
        str(DATA / "schemathesis.toml"),
        "run",
        f"{server.url}/openapi.json",
        "--checks",
        "all",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        "20261130",
        "--workers",
        "1",
        "--include-path-regex",
        "^/(twin|studio|ghostwriter)/",  # /graphs (LangServe) and /health are not in the contracts
        "--request-timeout",
        "120",
        "--generation-database",
        "none",
        "--no-color",
        "--report",
        "ndjson",
        "--report-dir",
        str(tmp_path),
        # the stateful phase of schemathesis 4.15 ignores the generation settings (NUL characters
        # and out-of-range values in linked requests)
        "--phases",
        "examples,coverage,fuzzing",
    ]
    for name, value in auth.items():
        command += ["--header", f"{name}: {value}"]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.support.schemathesis_hooks", "PYTHONPATH": str(ROOT)}
    run = subprocess.run(command, capture_output=True, text=True, timeout=3000, cwd=ROOT, env=env)
    assert run.returncode == 0, run.stdout[-20000:] + run.stderr[-5000:]
    assert " passed" in run.stdout, run.stdout[-5000:]
