"""Studio users: username, argon2 password hash (see server.security) and role."""

from __future__ import annotations

import uuid
from typing import Any

from psycopg.errors import UniqueViolation
from psycopg_pool import AsyncConnectionPool

ROLES = ("admin", "builder", "user")


class UsernameTaken(ValueError):
    pass


async def create_user(pool: AsyncConnectionPool, *, username: str, password_hash: str, role: str,
                      user_id: str | None = None) -> dict[str, Any]:
    """Insert a user; raises UsernameTaken when the username exists."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    new_id = user_id or uuid.uuid4().hex
    try:
        async with pool.connection() as conn:
            cur = await conn.execute(
                """INSERT INTO users (id, username, password_hash, role) VALUES (%s, %s, %s, %s)
                   RETURNING id, username, role, created_at""",
                (new_id, username, password_hash, role),
            )
            return await cur.fetchone()
    except UniqueViolation:
        raise UsernameTaken(f"The username {username!r} is taken") from None


async def get_user(pool: AsyncConnectionPool, user_id: str) -> dict[str, Any] | None:
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT id, username, role, created_at FROM users WHERE id = %s", (user_id,))
        return await cur.fetchone()


async def get_user_by_username(pool: AsyncConnectionPool, username: str) -> dict[str, Any] | None:
    """The user row including `password_hash` (for login only)."""
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT * FROM users WHERE username = %s", (username,))
        return await cur.fetchone()


async def update_password_hash(pool: AsyncConnectionPool, user_id: str, password_hash: str) -> None:
    async with pool.connection() as conn:
        await conn.execute("UPDATE users SET password_hash = %s WHERE id = %s", (password_hash, user_id))
