"""Studio users: username, argon2 password hash (see use_cases.studio.security) and role."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TypedDict, cast

from psycopg.errors import UniqueViolation

from store.types import Pool, one_row

ROLES = ("admin", "builder", "user")


class UserRow(TypedDict):
    id: str
    username: str
    role: str
    created_at: datetime


class UserWithHashRow(UserRow):
    password_hash: str


class UsernameTaken(ValueError):
    pass


async def create_user(
    pool: Pool, *, username: str, password_hash: str, role: str, user_id: str | None = None
) -> UserRow:
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
            return cast(UserRow, one_row(await cur.fetchone()))
    except UniqueViolation:
        raise UsernameTaken(f"The username {username!r} is taken") from None


async def get_user(pool: Pool, user_id: str) -> UserRow | None:
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT id, username, role, created_at FROM users WHERE id = %s", (user_id,))
        return cast("UserRow | None", await cur.fetchone())


async def get_user_by_username(pool: Pool, username: str) -> UserWithHashRow | None:
    """The user row including `password_hash` (for login only)."""
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT * FROM users WHERE username = %s", (username,))
        return cast("UserWithHashRow | None", await cur.fetchone())


async def update_password_hash(pool: Pool, user_id: str, password_hash: str) -> None:
    async with pool.connection() as conn:
        await conn.execute("UPDATE users SET password_hash = %s WHERE id = %s", (password_hash, user_id))
