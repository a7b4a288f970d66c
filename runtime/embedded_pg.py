"""Embedded PostgreSQL 16 + pgvector from the `pgserver` wheel.

The data folder survives restarts. pgserver starts Postgres through pg_ctl, as a daemon that
outlives the process that asked for it, and lists the processes using a server in
`<data>/.handle_pids.json`; the last of them to exit normally stops it. A process that dies
without that cleanup (killed, or ended by a signal: `langgraph dev` reloading, a service
getting SIGTERM) leaves its pid in the list, and then nobody ever stops the server. So this
module prunes the pids of processes that are gone before starting or stopping, and
`stop_embedded_postgres` releases this process's handle explicitly (the services call it
when they stop).

Everything here blocks (imports, files, subprocesses, sleeps): call it from a thread while
an event loop runs (`asyncio.to_thread`).
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

from runtime.errors import ConfigError

log = logging.getLogger(__name__)

PIDS_FILE = ".handle_pids.json"  # pgserver's list of the processes using a server

# pgserver keeps one handle per process; several users in one process (a CLI command beside the
# server's services, tests) share it, so it is released when the last of them stops.
# Every use of pgserver's own lock here runs under `_users_lock` too: that lock is a file lock,
# which a second thread of the same process acquires at once instead of waiting for, and whose
# release then fails in whichever thread releases second.
_users: dict[Path, int] = {}
_users_lock = threading.Lock()


def _pgserver() -> Any:
    try:
        import pgserver
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ConfigError(
            "DATABASE_URL is not set and the embedded Postgres (pgserver) is not installed; "
            "install the 'local' extra or set DATABASE_URL."
        ) from exc
    return pgserver


def start_embedded_postgres(data_dir: Path) -> str:
    """Start (or join) the embedded server for `data_dir`; return its URL."""
    pgserver = _pgserver()
    data_dir = data_dir.resolve()
    data_dir.parent.mkdir(parents=True, exist_ok=True)  # pgserver creates the last level itself
    with _users_lock:
        prune_stale_pids(data_dir)
        try:
            server = pgserver.get_server(str(data_dir), cleanup_mode="stop")
        except Exception as exc:
            raise ConfigError(f"The embedded Postgres in {data_dir} could not start: {exc}") from exc
        _users[data_dir] = _users.get(data_dir, 0) + 1
    return str(server.get_uri())


def _alive(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def prune_stale_pids(data_dir: Path) -> list[int]:
    """Remove the pids of processes that no longer run from the server's handle list;
    return the pids removed."""
    path = data_dir.resolve() / PIDS_FILE
    if not path.exists():
        return []
    from pgserver.postgres_server import PostgresServer

    with PostgresServer._lock:  # the lock pgserver holds while it reads and writes the list
        try:
            pids = [int(p) for p in json.loads(path.read_text() or "[]")]
        except (ValueError, TypeError, OSError):
            pids = []
        live = [p for p in pids if p == os.getpid() or _alive(p)]
        if live != pids:
            path.write_text(json.dumps(live))
    stale = [p for p in pids if p not in live]
    if stale:
        log.info("embedded Postgres: dropped handles of exited processes %s", stale)
    return stale


def handle_pids(data_dir: Path) -> list[int]:
    """The processes pgserver counts as using the server in `data_dir`."""
    path = data_dir.resolve() / PIDS_FILE
    try:
        return [int(p) for p in json.loads(path.read_text() or "[]")]
    except (OSError, ValueError, TypeError):
        return []


def postgres_pid(data_dir: Path) -> int | None:
    """The running postmaster's pid for `data_dir`, None when no server runs there."""
    try:
        pid = int((data_dir.resolve() / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pid if _alive(pid) else None


def stop_embedded_postgres(data_dir: Path) -> bool:
    """One user of the server for `data_dir` in this process is done. When it was the last,
    release the process's handle: the server stops when no other live process uses it.
    Returns True when the server is stopped afterwards."""
    data_dir = data_dir.resolve()
    try:
        from pgserver.postgres_server import PostgresServer
    except ImportError:  # pragma: no cover - nothing was started then
        return True
    import psutil

    with _users_lock:
        left = _users.get(data_dir, 1) - 1
        if left > 0:
            _users[data_dir] = left
            return False
        _users.pop(data_dir, None)
        prune_stale_pids(data_dir)
        server = PostgresServer._instances.get(data_dir)
        if server is not None:
            atexit.unregister(server._cleanup)
            try:
                server._cleanup()
            except psutil.NoSuchProcess:  # it had died already
                pass
            finally:
                # a later start in this process registers again (pgserver would reuse the handle)
                PostgresServer._instances.pop(data_dir, None)
    return postgres_pid(data_dir) is None


def restart_if_dead(data_dir: Path) -> bool:
    """Start the server this process uses again when its postmaster has died (killed, crashed);
    True when it was started again. A frozen server (stopped, not dead) is left alone. Fails
    while the dead server's backends still hold its shared memory: the next call tries again."""
    data_dir = data_dir.resolve()
    if postgres_pid(data_dir) is not None:
        return False
    try:
        from pgserver.postgres_server import PostgresServer
    except ImportError:  # pragma: no cover - nothing was started then
        return False
    with _users_lock, PostgresServer._lock:
        server = PostgresServer._instances.get(data_dir)
        if server is None or not _users.get(data_dir):  # no user here (stopped on purpose)
            return False
        if postgres_pid(data_dir) is not None:
            return False
        log.warning("embedded Postgres in %s is not running: starting it again", data_dir)
        # A killed postmaster whose parent never reaps it (a container without an init process)
        # stays a zombie: its lock file would make Postgres and pgserver take it for running.
        (data_dir / "postmaster.pid").unlink(missing_ok=True)
        server.ensure_postgres_running()
    return True
