"""Budget reservations: concurrent reservations never exceed the limit, a reservation left by a
process that died stops counting at its expiry, settling charges the real usage (also above the
reservation and after the expiry) exactly once, and a settlement survives a database that is
briefly unavailable."""

from __future__ import annotations

import asyncio

from store import budgets

KEY = budgets.key_hash(b"budget-test-key")


async def _expire(pool, reservation_id) -> None:
    """What the clock does to a crashed process's reservation, done at once."""
    async with pool.connection() as conn:
        await conn.execute(
            "UPDATE budget_reservations SET expires_at = now() - interval '1 second' WHERE id = %s", (reservation_id,)
        )


async def test_concurrent_reservations_never_exceed_the_limit(services):
    results = await asyncio.gather(*(budgets.reserve(services.pool, KEY, "day", 1000, 300, 600) for _ in range(8)))
    assert sum(r is not None for r in results) == 3
    assert await budgets.used_tokens(services.pool, KEY, "day") == 900


async def test_an_expired_reservation_no_longer_holds_the_budget(services):
    crashed = await budgets.reserve(services.pool, KEY, "day", 1000, 800, 600)
    assert crashed is not None
    assert await budgets.reserve(services.pool, KEY, "day", 1000, 800, 600) is None
    await _expire(services.pool, crashed)
    assert await budgets.used_tokens(services.pool, KEY, "day") == 0
    assert await budgets.reserve(services.pool, KEY, "day", 1000, 800, 600) is not None


async def test_settle_charges_real_usage_once_even_above_the_reservation_or_after_expiry(services):
    first = await budgets.reserve(services.pool, KEY, "day", 10_000, 100, 600)
    assert first is not None
    assert await budgets.settle(services.pool, first, 2_500)  # the model used more than reserved
    assert not await budgets.settle(services.pool, first, 2_500)  # a retry charges nothing more
    assert await budgets.used_tokens(services.pool, KEY, "day") == 2_500
    late = await budgets.reserve(services.pool, KEY, "day", 10_000, 100, 600)
    assert late is not None
    await _expire(services.pool, late)
    assert await budgets.settle(services.pool, late, 40)  # its process was slow, not dead: still charged
    assert await budgets.used_tokens(services.pool, KEY, "day") == 2_540
    # the settled usage counts against the limit
    assert await budgets.reserve(services.pool, KEY, "day", 2_600, 100, 600) is None


async def test_a_settlement_retries_while_the_database_is_unavailable(services):
    from use_cases.ghostwriter import budget

    services.settings.bo_budget_tokens = 10_000
    reservation = await budget.reserve(services, b"budget-test-key", 500)
    assert reservation is not None
    # every connection is taken: the first attempts time out, the task retries until one is free
    services.pool.timeout = 0.2
    held = [await services.pool.getconn() for _ in range(services.pool.max_size)]
    retried = budget.settle_stats["retried"]
    task = budget.settle(services, reservation, 120)
    assert task is not None
    for _ in range(400):
        if budget.settle_stats["retried"] > retried:
            break
        await asyncio.sleep(0.05)
    assert budget.settle_stats["retried"] > retried
    for conn in held:
        await services.pool.putconn(conn)
    await task
    assert await budgets.used_tokens(services.pool, KEY, "day") == 120
