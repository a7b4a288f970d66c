"""The async psycopg pool (the URL is DATABASE_URL or the embedded server's: `runtime.services`).

Every query is bounded twice: the server ends a statement after DATABASE_STATEMENT_TIMEOUT, and
the client gives up a few seconds later (`TimedConnection`), because a server that is frozen or
cut off enforces nothing. A connection that timed out on the client is closed, not cancelled (a
cancel request to a frozen server hangs as well), so the pool replaces it.
"""

from __future__ import annotations

import time
from typing import Any

import psycopg
from psycopg import AsyncConnection
from psycopg import errors as pg_errors
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout, TooManyRequests

from runtime.errors import ConfigError
from runtime.settings import Settings

# How much longer than the server's statement timeout the client waits for an answer.
CLIENT_TIMEOUT_MARGIN = 3.0
# Callers over this many per pool connection, waiting for one, are refused at once.
WAITING_PER_CONNECTION = 20


# When the database last failed to answer (monotonic seconds): a pool that times out soon after
# is waiting for a database that is down, not for connections busy with other requests.
_last_failure = -1e9
FAILURE_MEMORY = 15.0


def note_database_failure() -> None:
    global _last_failure
    _last_failure = time.monotonic()


class DatabaseTimeout(psycopg.OperationalError):
    """The server did not answer in time (frozen, overloaded or cut off); the connection is closed."""


class TimedConnection(AsyncConnection[DictRow]):
    """A connection whose every wait on the server ends after `query_timeout` seconds."""

    query_timeout: float | None = None

    async def wait(self, gen: Any, interval: float = 0.1, timeout: float | None = None) -> Any:
        limit = timeout if timeout is not None else self.query_timeout
        try:
            return await super().wait(gen, interval, limit)
        except pg_errors._WaitTimeout:
            if timeout is not None:  # psycopg's own bounded wait: its caller handles it
                raise
            # The connection's state is unknown now; closing it lets the pool replace it.
            self.pgconn.finish()
            note_database_failure()
            raise DatabaseTimeout(f"the database did not answer within {limit:g} s") from None


def query_timeouts(settings: Settings) -> tuple[float | None, float | None]:
    """(server statement timeout, client timeout) in seconds; None when turned off (0)."""
    statement = settings.database_statement_timeout
    if not statement or statement <= 0:
        return None, None
    return statement, statement + CLIENT_TIMEOUT_MARGIN


def make_pool(url: str, settings: Settings) -> AsyncConnectionPool[Any]:
    """An unopened pool; connections are autocommit with dict rows (the checkpointer needs both).
    Queries run 5 times on a connection are prepared server-side (psycopg's default), which
    saves planning on every chat turn's checkpoint and persona reads; off when
    DATABASE_PREPARED_STATEMENTS=false (PgBouncer before 1.21 in transaction mode). Getting a
    connection waits at most DATABASE_POOL_TIMEOUT, and a caller beyond
    `WAITING_PER_CONNECTION` waiting callers per connection is refused at once."""
    prepare_threshold = 5 if settings.database_prepared_statements else None
    statement_timeout, client_timeout = query_timeouts(settings)
    kwargs: dict[str, Any] = {
        "autocommit": True,
        "prepare_threshold": prepare_threshold,
        "row_factory": dict_row,
        "connect_timeout": max(1, int(settings.database_connect_timeout)),
        # a server that stops answering is noticed by the kernel, not only by our timeouts
        "keepalives": 1,
        "keepalives_idle": 10,
        "keepalives_interval": 5,
        "keepalives_count": 3,
    }
    if statement_timeout is not None:
        kwargs["options"] = f"-c statement_timeout={int(statement_timeout * 1000)}"

    async def configure(conn: AsyncConnection[Any]) -> None:
        if isinstance(conn, TimedConnection):
            conn.query_timeout = client_timeout

    async def check(conn: AsyncConnection[Any]) -> None:
        # A connection the server closed while it sat in the pool (idle_session_timeout, a
        # restart, a proxy's idle cut) is replaced here, not handed to a request that would fail.
        try:
            await AsyncConnectionPool.check_connection(conn)
        except psycopg.OperationalError as exc:
            note_database_failure()  # when none works, the pool's timeout is the database's 503
            if not isinstance(exc, DatabaseTimeout):
                # the others that sat as long are likely gone too: replace them now, since the
                # pool waits a second and more between failed checks of one request
                await pool.check()
            raise

    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
        url,
        connection_class=TimedConnection,
        open=False,
        min_size=1,
        max_size=settings.database_pool_max,
        timeout=settings.database_pool_timeout,
        max_waiting=settings.database_pool_max * WAITING_PER_CONNECTION,
        # a database that was down is retried for as long as the service runs
        reconnect_timeout=24 * 3600.0,
        configure=configure,
        check=check,
        kwargs=kwargs,
    )
    return pool


def is_database_unavailable(exc: BaseException) -> bool:
    """The database cannot serve the request now (down, frozen, overloaded, a statement timed out):
    the caller should come back later; nothing about the request itself is wrong."""
    return isinstance(exc, psycopg.OperationalError)


def is_overload(exc: BaseException) -> bool:
    """Every connection was busy: the database answers, there are only too many requests. A pool
    timeout while the database has just failed is the database being down instead."""
    if isinstance(exc, TooManyRequests):
        return True
    if isinstance(exc, PoolTimeout):
        return time.monotonic() - _last_failure > FAILURE_MEMORY
    if isinstance(exc, psycopg.OperationalError):
        note_database_failure()
    return False


def describe_url(url: str) -> str:
    """The URL without credentials, for error messages."""
    from psycopg.conninfo import conninfo_to_dict

    try:
        info = conninfo_to_dict(url)
    except Exception:
        return "the configured DATABASE_URL"
    host = info.get("host") or "localhost"
    port = info.get("port") or "5432"
    db = info.get("dbname") or ""
    return f"{host}:{port}/{db}"


async def open_pool(pool: AsyncConnectionPool[Any], url: str, timeout: float) -> None:
    try:
        await pool.open(wait=True, timeout=timeout)
    except Exception as exc:
        await pool.close()
        raise ConfigError(
            f"Cannot connect to the database at {describe_url(url)}; check DATABASE_URL and that the server is running."
        ) from exc
