"""Per-API-key token budgets per period (day, week or month).

`reserve` is one conditional UPDATE (`used + amount <= limit`), so concurrent
requests can never together reserve more than the limit; `settle` replaces a
reservation by the tokens actually used.
"""

from __future__ import annotations

import hashlib

from store.types import Pool

PERIODS = ("day", "week", "month")


def key_hash(api_key: bytes) -> str:
    return hashlib.sha256(api_key).hexdigest()


async def reserve(pool: Pool, key: str, period: str, limit: int, amount: int) -> bool:
    """Atomically add `amount` to this period's usage if it stays within `limit`."""
    if period not in PERIODS:
        raise ValueError(f"budget period must be one of {PERIODS}")
    async with pool.connection() as conn:
        await conn.execute(
            """INSERT INTO api_budgets (key_hash, period_start) VALUES (%s, date_trunc(%s, now()))
               ON CONFLICT DO NOTHING""",
            (key, period),
        )
        cur = await conn.execute(
            """UPDATE api_budgets SET used_tokens = used_tokens + %s, updated_at = now()
                WHERE key_hash = %s AND period_start = date_trunc(%s, now()) AND used_tokens + %s <= %s
               RETURNING used_tokens""",
            (amount, key, period, amount, limit),
        )
        return await cur.fetchone() is not None


async def settle(pool: Pool, key: str, period: str, reserved: int, used: int) -> None:
    """Replace a reservation by the real usage (never charging more than was reserved)."""
    refund = reserved - min(used, reserved)
    if refund <= 0:
        return
    async with pool.connection() as conn:
        await conn.execute(
            """UPDATE api_budgets SET used_tokens = GREATEST(used_tokens - %s, 0), updated_at = now()
                WHERE key_hash = %s AND period_start = date_trunc(%s, now())""",
            (refund, key, period),
        )


async def used_tokens(pool: Pool, key: str, period: str) -> int:
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT used_tokens FROM api_budgets WHERE key_hash = %s AND period_start = date_trunc(%s, now())",
            (key, period),
        )
        row = await cur.fetchone()
    return 0 if row is None else int(row["used_tokens"])
