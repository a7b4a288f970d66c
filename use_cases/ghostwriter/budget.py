"""Token budgets per API key (BO_BUDGET_TOKENS per BO_BUDGET_PERIOD): a chat reserves its worst
case before generating and settles to what it used, so concurrent requests never overspend.

Settling is a task of its own, not a step of the request: a stream closed by a client that went
away, a cancelled request or a database that is briefly unreachable cannot lose it. The task
retries with back-off, the service waits for unfinished ones when it stops (`drain`), and a
settlement that never happens (the process was killed) is covered by the reservation's expiry."""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

from runtime.errors import ServiceError
from runtime.services import Services
from store import budgets

log = logging.getLogger(__name__)

BUDGET_EXCEEDED = {"error": "budget_exceeded", "message": "Budget limit exceeded"}
SETTLE_ATTEMPTS = 8  # back-off 0.5 s doubling to 30 s: about 2.5 minutes in all
PURGE_CHANCE = 0.01  # one reservation in a hundred also deletes long-expired ones

_pending: set[asyncio.Task[None]] = set()
# settlement attempts that failed and were tried again, and settlements given up, since start
settle_stats = {"retried": 0, "given_up": 0}


@dataclass
class Reservation:
    id: uuid.UUID
    key_hash: str
    tokens: int
    settled: bool = False


async def reserve(services: Services, api_key: bytes, tokens: int) -> Reservation | None:
    """Hold `tokens` of the key's budget; None when no budget is set, 429 when they do not fit."""
    settings = services.settings
    limit = settings.bo_budget_tokens
    if limit is None:
        return None
    key = budgets.key_hash(api_key)
    reservation_id = await budgets.reserve(
        services.pool, key, settings.bo_budget_period, limit, tokens, settings.bo_budget_reservation_seconds
    )
    if reservation_id is None:
        raise ServiceError(dict(BUDGET_EXCEEDED), status=429)
    if random.random() < PURGE_CHANCE:
        settle_soon(_purge(services))
    return Reservation(id=reservation_id, key_hash=key, tokens=tokens)


def settle(services: Services, reservation: Reservation | None, used: int) -> asyncio.Task[None] | None:
    """Replace the reservation by the tokens used, in a task of its own (once, however often it is
    called); await the task to know it is done. The charge is `used` even above the reservation."""
    if reservation is None or reservation.settled:
        return None
    reservation.settled = True
    return settle_soon(_settle(services, reservation, used))


def settle_soon(work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
    task = asyncio.ensure_future(work)
    _pending.add(task)
    task.add_done_callback(_pending.discard)
    return task


async def _settle(services: Services, reservation: Reservation, used: int) -> None:
    delay = 0.5
    for attempt in range(1, SETTLE_ATTEMPTS + 1):
        try:
            await budgets.settle(services.pool, reservation.id, used)
            return
        except Exception as exc:
            if attempt == SETTLE_ATTEMPTS:
                settle_stats["given_up"] += 1
                log.error(
                    "budget settlement of reservation %s (%d tokens used) failed %d times, last: %s; "
                    "the reservation is released when it expires",
                    reservation.id,
                    used,
                    attempt,
                    exc,
                )
                return
            settle_stats["retried"] += 1
            log.warning("budget settlement failed (attempt %d), retrying: %s", attempt, exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)


async def _purge(services: Services) -> None:
    try:
        await budgets.purge_expired(services.pool)
    except Exception as exc:
        log.warning("could not delete expired budget reservations: %s", exc)


async def drain(timeout: float = 30.0) -> None:
    """Wait for unfinished settlements (at shutdown, before the pool closes)."""
    loop = asyncio.get_running_loop()
    mine = {task for task in _pending if task.get_loop() is loop}
    if mine:
        await asyncio.wait(mine, timeout=timeout)
