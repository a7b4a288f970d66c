"""The Twin-chat API's optional key: when TWIN_API_KEY is set every route needs a matching
`X-API-Key` header (401 otherwise). The caller's chat sessions are keyed by that key."""

from __future__ import annotations

import hashlib
import hmac

from fastapi import Depends, HTTPException, Request
from fastapi.security import APIKeyHeader

ANONYMOUS = "anonymous"

_api_key_header = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="Required when the server sets TWIN_API_KEY."
)


async def caller_id(request: Request, api_key: str | None = Depends(_api_key_header)) -> str:
    """Check the optional API key; return who is calling (used to key chat sessions)."""
    expected = request.app.state.services.settings.twin_api_key
    if expected is None or not expected.get_secret_value():
        return ANONYMOUS
    if not api_key or not hmac.compare_digest(api_key.encode(), expected.get_secret_value().encode()):
        raise HTTPException(
            status_code=401,
            detail="Missing or invalid API key (X-API-Key header).",
            headers={"WWW-Authenticate": "APIKey"},
        )
    # a digest, so the key itself is never stored with the sessions
    return "key:" + hashlib.sha256(api_key.encode()).hexdigest()[:16]
