"""The schema's versioned SQL migrations: the files in `store/migrations`, applied in name order.

The runner (`runtime.migrations`) applies them at start-up: each file in its own transaction,
recorded in `schema_migrations`, under an advisory lock so replicas starting together agree.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from psycopg import AsyncConnection

from runtime import migrations as runner
from runtime.migrations import Migration, MigrationError

__all__ = ["MIGRATIONS", "Migration", "MigrationError", "apply_migrations", "available_migrations"]

MIGRATIONS = resources.files("store") / "migrations"


def available_migrations() -> list[Migration]:
    return runner.load_migrations(MIGRATIONS)


async def apply_migrations(conn: AsyncConnection[Any]) -> list[str]:
    """Apply pending migrations; return the versions applied by this call."""
    return await runner.apply_migrations(conn, available_migrations())
