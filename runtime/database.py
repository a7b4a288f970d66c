"""The async psycopg pool (the URL is DATABASE_URL or the embedded server's: `runtime.services`)."""

from __future__ import annotations

from psycopg import AsyncConnection
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool

from runtime.errors import ConfigError
from runtime.settings import Settings


def make_pool(url: str, settings: Settings) -> AsyncConnectionPool[AsyncConnection[DictRow]]:
    """An unopened pool; connections are autocommit with dict rows (the checkpointer needs both).
    Queries run 5 times on a connection are prepared server-side (psycopg's default), which
    saves planning on every chat turn's checkpoint and persona reads; off when
    DATABASE_PREPARED_STATEMENTS=false (PgBouncer before 1.21 in transaction mode)."""
    prepare_threshold = 5 if settings.database_prepared_statements else None
    return AsyncConnectionPool(
        url,
        open=False,
        min_size=1,
        max_size=settings.database_pool_max,
        timeout=settings.database_connect_timeout,
        kwargs={
            "autocommit": True,
            "prepare_threshold": prepare_threshold,
            "row_factory": dict_row,
            "connect_timeout": max(1, int(settings.database_connect_timeout)),
        },
    )


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


async def open_pool(pool: AsyncConnectionPool[AsyncConnection[DictRow]], url: str, timeout: float) -> None:
    try:
        await pool.open(wait=True, timeout=timeout)
    except Exception as exc:
        await pool.close()
        raise ConfigError(
            f"Cannot connect to the database at {describe_url(url)}; check DATABASE_URL and that the server is running."
        ) from exc
