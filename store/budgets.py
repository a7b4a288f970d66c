"""Per-API-key token budgets per period (day, week or month).

A period's row (`api_budgets`) holds the tokens settled so far; each running chat holds a
reservation row (`budget_reservations`) with an expiry. What a key has used is the settled tokens
plus its live (unexpired) reservations. `reserve` locks the period's row first and then, in a
statement that sees every reservation committed before it, adds a reservation only if it fits,
so concurrent requests (in any number of processes) never reserve more than the limit together.
`settle` deletes the reservation and adds the real usage in one statement: it charges what was
used even above the reservation, and settling twice charges once. A reservation left by a
process that died stops counting at its expiry.
"""

from __future__ import annotations

import hashlib
import uuid

from store.types import Pool

PERIODS = ("day", "week", "month")
# settled or abandoned reservations are deleted this long after they expired
PURGE_AFTER = "1 day"


def key_hash(api_key: bytes) -> str:
    return hashlib.sha256(api_key).hexdigest()


async def reserve(pool: Pool, key: str, period: str, limit: int, amount: int, ttl_seconds: float) -> uuid.UUID | None:
    """Hold `amount` tokens of this period's budget until settled or `ttl_seconds` have passed;
    the reservation's id, or None when it does not fit within `limit`."""
    if period not in PERIODS:
        raise ValueError(f"budget period must be one of {PERIODS}")
    async with pool.connection() as conn, conn.transaction():
        # Lock the period's row: concurrent reservations of this key wait here, one at a time.
        await conn.execute(
            """INSERT INTO api_budgets (key_hash, period_start) VALUES (%s, date_trunc(%s, now()))
               ON CONFLICT (key_hash, period_start) DO UPDATE SET updated_at = now()""",
            (key, period),
        )
        # A new statement: its snapshot sees the reservations of those that held the lock before.
        cur = await conn.execute(
            """WITH budget AS (
                   SELECT used_tokens, period_start FROM api_budgets
                    WHERE key_hash = %(key)s AND period_start = date_trunc(%(period)s, now())),
               held AS (
                   SELECT COALESCE(sum(r.tokens), 0) AS tokens FROM budget_reservations r, budget b
                    WHERE r.key_hash = %(key)s AND r.period_start = b.period_start AND r.expires_at > now())
               INSERT INTO budget_reservations (id, key_hash, period_start, tokens, expires_at)
               SELECT %(id)s, %(key)s, b.period_start, %(amount)s, now() + make_interval(secs => %(ttl)s)
                 FROM budget b, held h
                WHERE b.used_tokens + h.tokens + %(amount)s <= %(limit)s
               RETURNING id""",
            {"key": key, "period": period, "id": uuid.uuid4(), "amount": amount, "ttl": ttl_seconds, "limit": limit},
        )
        row = await cur.fetchone()
    return None if row is None else row["id"]


async def settle(pool: Pool, reservation_id: uuid.UUID, used: int) -> bool:
    """Replace the reservation by `used` tokens in its period (also after it expired); False when
    it was settled already (or purged)."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            """WITH gone AS (
                   DELETE FROM budget_reservations WHERE id = %s RETURNING key_hash, period_start)
               UPDATE api_budgets b SET used_tokens = b.used_tokens + %s, updated_at = now()
                 FROM gone WHERE b.key_hash = gone.key_hash AND b.period_start = gone.period_start
               RETURNING b.used_tokens""",
            (reservation_id, max(0, used)),
        )
        return await cur.fetchone() is not None


async def purge_expired(pool: Pool) -> int:
    """Delete reservations that expired long ago (their processes died before settling)."""
    async with pool.connection() as conn:
        cur = await conn.execute(f"DELETE FROM budget_reservations WHERE expires_at < now() - interval '{PURGE_AFTER}'")
        return cur.rowcount


async def used_tokens(pool: Pool, key: str, period: str) -> int:
    """Tokens this period counts against the key: settled usage plus live reservations."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            """SELECT COALESCE((SELECT used_tokens FROM api_budgets
                                 WHERE key_hash = %(key)s AND period_start = date_trunc(%(period)s, now())), 0)
                    + COALESCE((SELECT sum(tokens) FROM budget_reservations
                                 WHERE key_hash = %(key)s AND period_start = date_trunc(%(period)s, now())
                                   AND expires_at > now()), 0) AS used""",
            {"key": key, "period": period},
        )
        row = await cur.fetchone()
    return 0 if row is None else int(row["used"])
