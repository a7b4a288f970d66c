"""Ghostwriter personas: one `personas` row (kind 'ghostwriter') per account, versions immutable.

A version's `details` hold posts_analyzed_count (this version), posts_analyzed
(cumulative), confidence_score (measured), engagement_aware, avg_engagement and
latest_post_at (the newest post analysed, so refine knows what is new).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, TypedDict, cast

from psycopg.types.json import Jsonb

from store.personas import create_persona
from store.types import Pool, one_row

VERSION_MAX = 2**31 - 1  # persona_versions.version is an integer column

_VERSION_SELECT = """SELECT v.version, v.system_prompt, v.style_traits, v.refinement_summary, v.details,
                            v.created_at"""


class VersionRow(TypedDict):
    version: int
    system_prompt: str
    style_traits: list[str]
    refinement_summary: str | None
    details: dict[str, Any]
    created_at: datetime


class CurrentVersionRow(VersionRow):
    persona_id: int


class GhostwriterListRow(TypedDict):
    account_id: str
    handle: str
    display_name: str
    avatar_url: str
    persona_version: int
    details: dict[str, Any]


class AnalyticsRow(TypedDict):
    total_accounts: int
    accounts_with_personas: int
    avg_version: float | None
    avg_posts: float | None


class AccountPersonaRow(TypedDict):
    """An account and its current persona version; the persona fields are None without a persona."""

    id: str
    handle: str
    display_name: str
    avatar_url: str
    active: bool
    persona_id: int | None
    version: int | None
    system_prompt: str | None
    style_traits: list[str] | None
    refinement_summary: str | None
    details: dict[str, Any] | None
    created_at: datetime | None


async def persona_id_for(pool: Pool, account_id: str) -> int | None:
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT persona_id FROM ghostwriter_personas WHERE account_id = %s", (account_id,))
        row = await cur.fetchone()
    return None if row is None else int(row["persona_id"])


async def save_version(
    pool: Pool,
    *,
    account: Mapping[str, Any],
    system_prompt: str,
    style_traits: Sequence[str],
    refinement_summary: str,
    details: Mapping[str, Any],
) -> int:
    """Store a new immutable version and make it current (creating the persona on first use);
    returns the version number."""
    persona_id = await persona_id_for(pool, account["id"])
    if persona_id is None:
        persona_id = await create_persona(
            pool,
            kind="ghostwriter",
            name=f"@{account['handle']}",
            owner_id=account["id"],
            description=account.get("display_name") or "",
            system_prompt=system_prompt,
            style_traits=style_traits,
            refinement_summary=refinement_summary,
            details=details,
        )
        async with pool.connection() as conn:
            cur = await conn.execute(
                """INSERT INTO ghostwriter_personas (account_id, persona_id) VALUES (%s, %s)
                   ON CONFLICT (account_id) DO NOTHING RETURNING persona_id""",
                (account["id"], persona_id),
            )
            if await cur.fetchone() is not None:
                return 1
            # Another request created it first: drop ours and add a version to theirs.
            await conn.execute("DELETE FROM personas WHERE id = %s", (persona_id,))
        persona_id = await persona_id_for(pool, account["id"])
    async with pool.connection() as conn, conn.transaction():
        cur = await conn.execute("SELECT id FROM personas WHERE id = %s FOR UPDATE", (persona_id,))
        await cur.fetchone()
        cur = await conn.execute(
            "SELECT COALESCE(max(version), 0) + 1 AS v FROM persona_versions WHERE persona_id = %s", (persona_id,)
        )
        version = int(one_row(await cur.fetchone())["v"])
        await conn.execute(
            """INSERT INTO persona_versions (persona_id, version, system_prompt, style_traits,
                                             refinement_summary, details) VALUES (%s, %s, %s, %s, %s, %s)""",
            (persona_id, version, system_prompt, Jsonb(style_traits), refinement_summary, Jsonb(details)),
        )
        await conn.execute(
            "UPDATE personas SET current_version = %s, updated_at = now() WHERE id = %s", (version, persona_id)
        )
    return version


async def current_version(pool: Pool, account_id: str) -> CurrentVersionRow | None:
    async with pool.connection() as conn:
        cur = await conn.execute(
            f"""{_VERSION_SELECT}, p.id AS persona_id
                  FROM ghostwriter_personas g JOIN personas p ON p.id = g.persona_id
                  JOIN persona_versions v ON v.persona_id = p.id AND v.version = p.current_version
                 WHERE g.account_id = %s""",
            (account_id,),
        )
        return cast("CurrentVersionRow | None", await cur.fetchone())


async def history(pool: Pool, account_id: str, limit: int) -> tuple[list[VersionRow], int]:
    """The newest `limit` versions (newest first) and the total number of versions."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            f"""{_VERSION_SELECT} FROM ghostwriter_personas g
                  JOIN persona_versions v ON v.persona_id = g.persona_id
                 WHERE g.account_id = %s ORDER BY v.version DESC LIMIT %s""",
            (account_id, limit),
        )
        rows = cast(list[VersionRow], await cur.fetchall())
        cur = await conn.execute(
            """SELECT count(*) AS n FROM ghostwriter_personas g
                 JOIN persona_versions v ON v.persona_id = g.persona_id WHERE g.account_id = %s""",
            (account_id,),
        )
        total = int(one_row(await cur.fetchone())["n"])
    return rows, total


async def rollback(pool: Pool, account_id: str, version: int) -> bool:
    """Make `version` current again (history is kept); False when there is no such version."""
    if not 0 < version <= VERSION_MAX:  # beyond the column's range: no such version, no query
        return False
    async with pool.connection() as conn:
        cur = await conn.execute(
            """UPDATE personas p SET current_version = %s, updated_at = now()
                 FROM ghostwriter_personas g
                WHERE g.account_id = %s AND p.id = g.persona_id
                  AND EXISTS (SELECT 1 FROM persona_versions v WHERE v.persona_id = p.id AND v.version = %s)
               RETURNING p.id""",
            (version, account_id, version),
        )
        return await cur.fetchone() is not None


async def list_personas(pool: Pool) -> list[GhostwriterListRow]:
    async with pool.connection() as conn:
        cur = await conn.execute(
            """SELECT a.id AS account_id, a.handle, a.display_name, a.avatar_url,
                      p.current_version AS persona_version, v.details
                 FROM ghostwriter_personas g JOIN accounts a ON a.id = g.account_id
                 JOIN personas p ON p.id = g.persona_id
                 JOIN persona_versions v ON v.persona_id = p.id AND v.version = p.current_version
                ORDER BY a.handle, a.id"""
        )
        return cast(list[GhostwriterListRow], await cur.fetchall())


async def analytics(pool: Pool) -> AnalyticsRow:
    async with pool.connection() as conn:
        cur = await conn.execute(
            """SELECT (SELECT count(*) FROM accounts) AS total_accounts,
                      count(g.account_id) AS accounts_with_personas,
                      avg(p.current_version)::float AS avg_version,
                      avg(COALESCE((v.details->>'posts_analyzed')::float, 0)) AS avg_posts
                 FROM ghostwriter_personas g JOIN personas p ON p.id = g.persona_id
                 JOIN persona_versions v ON v.persona_id = p.id AND v.version = p.current_version"""
        )
        return cast(AnalyticsRow, one_row(await cur.fetchone()))


async def account_with_persona(pool: Pool, account_id: str) -> AccountPersonaRow | None:
    """The account and its current persona version in one round trip (chat's hot path): None
    without the account; `persona_id` is None when it has no persona."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            """SELECT a.id, a.handle, a.display_name, a.avatar_url, a.active,
                      p.id AS persona_id, v.version, v.system_prompt, v.style_traits, v.refinement_summary,
                      v.details, v.created_at
                 FROM accounts a
                 LEFT JOIN ghostwriter_personas g ON g.account_id = a.id
                 LEFT JOIN personas p ON p.id = g.persona_id
                 LEFT JOIN persona_versions v ON v.persona_id = p.id AND v.version = p.current_version
                WHERE a.id = %s""",
            (account_id,),
        )
        return cast("AccountPersonaRow | None", await cur.fetchone())
