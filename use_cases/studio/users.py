"""Studio users: log in with a password, add a user, and the user a verified token names."""

from __future__ import annotations

import asyncio

from runtime.errors import ServiceError
from store.types import Pool
from store.users import UsernameTaken, UserRow, create_user, get_user, get_user_by_username, update_password_hash
from use_cases.studio.access import CurrentUser
from use_cases.studio.security import Role, dummy_verify_password, hash_password, password_needs_rehash, verify_password

LOGIN_REFUSED = "Incorrect username or password"


class LoginRefused(ServiceError):
    """Unknown username or wrong password (one message for both)."""

    status = 401
    # the challenge a 401 carries (RFC 9110 11.6.1); the error handler sends it
    headers = {"WWW-Authenticate": "Bearer"}


class UsernameInUse(ServiceError):
    status = 409


async def log_in(pool: Pool, username: str, password: str) -> UserRow:
    """The user whose password this is. An unknown username costs the time of one password
    check too, so the answer's timing does not tell which usernames exist. A hash with
    outdated parameters is replaced while the password is at hand."""
    user = await get_user_by_username(pool, username)
    if user is None:
        await asyncio.to_thread(dummy_verify_password, password)
        raise LoginRefused(LOGIN_REFUSED)
    if not await asyncio.to_thread(verify_password, password, user["password_hash"]):
        raise LoginRefused(LOGIN_REFUSED)
    if password_needs_rehash(user["password_hash"]):
        await update_password_hash(pool, user["id"], await asyncio.to_thread(hash_password, password))
    return user


async def add_user(pool: Pool, *, username: str, password: str, role: str) -> UserRow:
    """A new user; 409 when the username is taken."""
    password_hash = await asyncio.to_thread(hash_password, password)
    try:
        return await create_user(pool, username=username, password_hash=password_hash, role=role)
    except UsernameTaken:
        raise UsernameInUse("Username already exists") from None


async def token_user(pool: Pool, user_id: str) -> CurrentUser | None:
    """The user a verified token names, with the role read from the database (a changed role
    counts at once); None when the user no longer exists."""
    user = await get_user(pool, user_id)
    if user is None:
        return None
    return CurrentUser(id=user["id"], username=user["username"], role=Role(user["role"]))
