"""The ghostwriter API key: every route needs `X-API-Key` equal to BO_API_KEY, else 403."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader

from runtime.errors import ServiceError

INVALID_KEY = "Invalid or missing API key"

scheme = APIKeyHeader(
    name="X-API-Key",
    scheme_name="GhostwriterApiKey",
    auto_error=False,
    description="The shared secret the server sets as BO_API_KEY.",
)


async def api_key(request: Request, _declared: str | None = Security(scheme)) -> bytes:
    """The caller's key as sent, if it matches BO_API_KEY (compared in constant time)."""
    # The raw header bytes, not the scheme's value: that is latin-1 text and reads an empty header as none.
    expected = request.app.state.services.settings.bo_api_key
    raw = next((v for k, v in request.headers.raw if k.lower() == b"x-api-key"), None)
    if expected is None or raw is None or not hmac.compare_digest(raw, expected.get_secret_value().encode("utf-8")):
        raise ServiceError(INVALID_KEY, status=403)
    return raw


ApiKey = Annotated[bytes, Depends(api_key)]
