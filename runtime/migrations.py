"""The migration runner: versioned SQL files applied in name order.

The files are data: the runner is handed a folder (`store/migrations` for this service) and
knows nothing of what they create. Each file `NNNN_name.sql` runs in its own transaction and is
recorded in `schema_migrations` with a checksum; a Postgres advisory lock serialises replicas
that start at the same time, so applying is idempotent.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from psycopg import AsyncConnection

if TYPE_CHECKING:
    from importlib.abc import Traversable

_LOCK_KEY = 0x5E55_0001  # arbitrary, constant across releases


@dataclass(frozen=True)
class Migration:
    version: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


class MigrationError(RuntimeError):
    pass


def migrations_folder(location: str | Path | Traversable) -> Path | Traversable:
    """A folder of migrations: a path, or `package:folder` for a folder shipped inside a package."""
    if isinstance(location, str) and ":" in location and not Path(location).exists():
        package, _, folder = location.partition(":")
        return resources.files(package) / folder
    return Path(location) if isinstance(location, str) else location


def load_migrations(folder: str | Path | Traversable) -> list[Migration]:
    """The migrations in `folder`, in name order (reads files: call it off the event loop)."""
    root = migrations_folder(folder)
    files = sorted((f for f in root.iterdir() if f.name.endswith(".sql")), key=lambda f: f.name)
    return [Migration(f.name.removesuffix(".sql"), f.read_text()) for f in files]


async def apply_migrations(conn: AsyncConnection[Any], migrations: Sequence[Migration]) -> list[str]:
    """Apply the pending ones of `migrations`; return the versions applied by this call."""
    applied_now: list[str] = []
    await conn.set_autocommit(True)
    await conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
    try:
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   version TEXT PRIMARY KEY,
                   checksum TEXT NOT NULL,
                   applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"""
        )
        cur = await conn.execute("SELECT version, checksum FROM schema_migrations")
        rows = [tuple(r.values()) if isinstance(r, dict) else tuple(r) for r in await cur.fetchall()]
        done = {str(version): str(checksum) for version, checksum in rows}
        for migration in migrations:
            if migration.version in done:
                if done[migration.version] != migration.checksum:
                    raise MigrationError(
                        f"Migration {migration.version} was changed after it was applied; "
                        "add a new migration instead of editing an old one."
                    )
                continue
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, checksum) VALUES (%s, %s)",
                    (migration.version, migration.checksum),
                )
            applied_now.append(migration.version)
    finally:
        await conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
    return applied_now
