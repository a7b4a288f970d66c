"""The database frozen (postmaster and backends stopped) or killed, on an embedded Postgres of the
test's own: /health answers 503 promptly, routes answer JSON 503 with Retry-After instead of
hanging or a 500, the supervisor starts a killed server again, and the service recovers without
a restart, its data intact."""

from __future__ import annotations

import asyncio
import os
import signal
import threading

import psutil
import pytest
from pydantic import SecretStr

from runtime.embedded_pg import postgres_pid, restart_if_dead, start_embedded_postgres, stop_embedded_postgres
from runtime.services import Services
from runtime.settings import Settings
from tests.conftest import app_client
from tests.support.ghostwriter import API_KEY, HEADERS

LIST = "/ghostwriter/personas/list"
ACCOUNT = {"id": "4242", "handle": "faulty", "display_name": "Faulty", "avatar_url": "https://example.com/a.png"}


@pytest.fixture
def supervise_seconds() -> float:
    return 0.2


@pytest.fixture
async def embedded_services(tmp_path, local_embeddings, script, supervise_seconds) -> Services:
    """Services, not started yet, that run an embedded Postgres in tmp_path (supervised every
    0.2 s)."""
    settings = Settings(
        _env_file=None,
        data_dir=tmp_path / "data",
        chat_model="fake:scripted",
        jwt_secret="x" * 48,
        twin_demo_autoload=False,
        bo_api_key=SecretStr(API_KEY),
        database_statement_timeout=2,
        database_pool_timeout=1,
        embedded_pg_supervise_seconds=supervise_seconds,
    )
    services = await Services.acreate(settings)
    services.embeddings = local_embeddings
    return services


@pytest.fixture
async def embedded(embedded_services):
    """An app on `embedded_services`."""
    from server.app import create_app

    settings = embedded_services.settings
    app = create_app(settings, services=embedded_services, start_model=False, start_embeddings=False)
    async with app_client(app) as client:
        yield client, settings.database_dir
    assert postgres_pid(settings.database_dir) is None  # stopping the app stopped its server


def _server_processes(data_dir) -> list[psutil.Process]:
    pid = postgres_pid(data_dir)
    assert pid is not None
    postmaster = psutil.Process(pid)
    return [postmaster, *postmaster.children(recursive=True)]


def _kill_and_wait(data_dir) -> None:
    postmaster, *backends = _server_processes(data_dir)
    postmaster.send_signal(signal.SIGKILL)
    # they exit once they notice; a restart fails while they still hold the shared memory
    psutil.wait_procs(backends, 30)


async def _until_healthy(client) -> None:
    for _ in range(400):
        r = await client.get("/health")
        if r.status_code == 200:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"the service never became healthy again: {r.json()}")


async def test_a_frozen_database_is_reported_and_refused_then_recovered(embedded):
    client, data_dir = embedded
    assert (await client.post("/ghostwriter/accounts", headers=HEADERS, json=ACCOUNT)).status_code == 200
    assert (await client.get("/health")).status_code == 200
    frozen = _server_processes(data_dir)
    for process in frozen:
        process.send_signal(signal.SIGSTOP)
    try:
        r = await client.get("/health")
        assert r.status_code == 503
        assert r.json()["status"] == "degraded" and not r.json()["checks"]["database"]["ok"]
        r = await client.get(LIST, headers=HEADERS)
        assert r.status_code == 503
        assert r.headers["retry-after"] == "5"
        assert r.json() == {"detail": "The database is unavailable; try again shortly."}
    finally:
        for process in frozen:
            process.send_signal(signal.SIGCONT)
    await _until_healthy(client)
    r = await client.get(LIST, headers=HEADERS)
    assert r.status_code == 200


async def test_a_killed_database_is_started_again_and_the_service_recovers(embedded):
    client, data_dir = embedded
    assert (await client.post("/ghostwriter/accounts", headers=HEADERS, json=ACCOUNT)).status_code == 200
    first = postgres_pid(data_dir)
    assert first is not None
    os.kill(first, signal.SIGKILL)
    r = await client.get(LIST, headers=HEADERS)
    assert r.status_code in (200, 503)  # the supervisor may have started it again already
    if r.status_code == 503:
        assert r.json() == {"detail": "The database is unavailable; try again shortly."}
        assert r.headers["retry-after"] == "5"
    # A backend of the killed server can still answer until it notices its postmaster is gone,
    # so a healthy answer alone does not yet mean the server was started again: wait for both.
    for _ in range(400):
        if postgres_pid(data_dir) not in (None, first):
            break
        await asyncio.sleep(0.1)
    await _until_healthy(client)
    assert postgres_pid(data_dir) not in (None, first)
    # the same data, without a restart of the service
    r = await client.post("/ghostwriter/accounts", headers=HEADERS, json=ACCOUNT)
    assert r.status_code == 200
    r = await client.get(LIST, headers=HEADERS)
    assert r.status_code == 200


@pytest.mark.parametrize("supervise_seconds", [0.0])
async def test_while_the_database_is_gone_health_and_routes_answer_503_until_it_is_back(embedded):
    client, data_dir = embedded  # not supervised here: the server stays down until started below
    await asyncio.to_thread(_kill_and_wait, data_dir)
    for _ in range(3):
        r = await client.get("/health")
        assert r.status_code == 503
        assert not r.json()["checks"]["database"]["ok"]
        r = await client.get(LIST, headers=HEADERS)
        assert r.status_code == 503
        assert r.json() == {"detail": "The database is unavailable; try again shortly."}
        assert r.headers["retry-after"] == "5"
    for _ in range(100):  # what the supervisor does, once the dead server's backends are gone
        try:
            if await asyncio.to_thread(restart_if_dead, data_dir):
                break
        except Exception:
            await asyncio.sleep(0.2)
    await _until_healthy(client)
    assert (await client.get(LIST, headers=HEADERS)).status_code == 200


def _race_restart_and_stop(data_dir, delay: float) -> list[BaseException]:
    """Start the supervisor's restart and the services' stop together in two threads; the stop
    waits `delay` seconds first. Returns what either raised."""
    both = threading.Barrier(2)
    errors: list[BaseException] = []

    def run(step, wait: float) -> None:
        both.wait()
        threading.Event().wait(wait)
        try:
            step(data_dir)
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=run, args=(restart_if_dead, 0.0)),
        threading.Thread(target=run, args=(stop_embedded_postgres, delay)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return errors


def test_a_stop_racing_a_restart_leaves_the_server_stopped_and_startable_again(tmp_path):
    """The supervisor's restart and the services' stop run in threads of one process: whichever
    goes first, the stop wins, and pgserver's lock still works afterwards."""
    data_dir = tmp_path / "pg"
    for delay in (0.0, 0.05, 0.3):
        start_embedded_postgres(data_dir)
        _kill_and_wait(data_dir)
        assert _race_restart_and_stop(data_dir, delay) == []
        assert postgres_pid(data_dir) is None, f"a server still runs after the stop (delay {delay})"
    start_embedded_postgres(data_dir)
    try:
        assert postgres_pid(data_dir) is not None
    finally:
        assert stop_embedded_postgres(data_dir)


def _supervisors() -> list[asyncio.Task]:
    return [t for t in asyncio.all_tasks() if t.get_coro().__qualname__ == "supervise_embedded_postgres"]


async def test_stopped_services_leave_no_database_supervisor_behind(embedded_services):
    services = embedded_services
    await services.start(with_model=False, with_embeddings=False)
    assert len(_supervisors()) == 1
    await services.stop()
    assert _supervisors() == []
    assert postgres_pid(services.settings.database_dir) is None


async def test_a_supervisor_of_another_event_loop_is_cancelled_on_its_own_loop():
    """Services started on one loop (a dev server's worker) may be stopped from another."""
    from runtime.services import _cancel

    other = asyncio.new_event_loop()
    runner = threading.Thread(target=other.run_forever)
    runner.start()
    try:
        task = asyncio.run_coroutine_threadsafe(_make_sleeper(), other).result(5)
        await _cancel(task)
        for _ in range(100):
            if task.done():
                break
            await asyncio.sleep(0.01)
        assert task.cancelled()
    finally:
        other.call_soon_threadsafe(other.stop)
        runner.join(5)
        other.close()
    await _cancel(task)  # its loop closed: nothing left to do, and no error


async def _make_sleeper() -> asyncio.Task[None]:
    return asyncio.create_task(asyncio.sleep(3600))
