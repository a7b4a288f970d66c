"""GET /health: database, model and embeddings (`services.health`); 503 when one is down."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from services.health import check_health

router = APIRouter()


class CheckOut(BaseModel):
    ok: bool
    detail: str


class HealthOut(BaseModel):
    status: Literal["ok", "degraded"]
    checks: dict[str, CheckOut]


@router.get(
    "/health",
    tags=["service"],
    response_model=HealthOut,
    responses={503: {"model": HealthOut, "description": "A required service is down (status 'degraded')"}},
)
async def health(request: Request) -> JSONResponse:
    report = await check_health(request.app.state.services)
    body = HealthOut(
        status="ok" if report.ok else "degraded",
        checks={name: CheckOut(ok=c.ok, detail=c.detail) for name, c in report.checks.items()},
    )
    return JSONResponse(body.model_dump(), status_code=200 if report.ok else 503)
