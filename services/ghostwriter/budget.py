"""Token budgets per API key (BO_BUDGET_TOKENS per BO_BUDGET_PERIOD): a chat reserves its worst
case before generating and settles to what it used, so concurrent requests never overspend."""

from __future__ import annotations

from dataclasses import dataclass

from runtime.errors import ServiceError
from runtime.services import Services
from store import budgets

BUDGET_EXCEEDED = {"error": "budget_exceeded", "message": "Budget limit exceeded"}


@dataclass
class Reservation:
    key_hash: str
    period: str
    tokens: int
    settled: bool = False


async def reserve(services: Services, api_key: bytes, tokens: int) -> Reservation | None:
    """Hold `tokens` of the key's budget; None when no budget is set, 429 when they do not fit."""
    settings = services.settings
    limit = settings.bo_budget_tokens
    if limit is None:
        return None
    reservation = Reservation(key_hash=budgets.key_hash(api_key), period=settings.bo_budget_period, tokens=tokens)
    if not await budgets.reserve(services.pool, reservation.key_hash, reservation.period, limit, tokens):
        raise ServiceError(dict(BUDGET_EXCEEDED), status=429)
    return reservation


async def settle(services: Services, reservation: Reservation | None, used: int) -> None:
    """Replace the reservation by the tokens used (once, however often it is called)."""
    if reservation is None or reservation.settled:
        return
    reservation.settled = True
    await budgets.settle(services.pool, reservation.key_hash, reservation.period, reservation.tokens, used)
