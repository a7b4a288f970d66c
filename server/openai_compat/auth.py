"""The OpenAI-compatible mount's one credential: `Authorization: Bearer <token>`, the field chat
UIs call "API key". One token stands for one of the service's existing credentials:

1. equal to BO_API_KEY: the ghostwriter API key (ghostwriter models, with that key's budget);
2. equal to TWIN_API_KEY: the twin API key (twin models);
3. shaped like a JWT: a studio access token, verified as the studio API verifies it (signature,
   expiry, issuer, audience, the user still exists); a refused one is a 401 with the reason;
4. anything else, or no token: nobody in particular.

The keys are compared first (in constant time): they need no signing secret and no database.
Twins are open to every caller unless TWIN_API_KEY is set, as in the twin API; so without a
twin key a caller of case 4 is let in with the twins only, and otherwise is a 401. A chat UI
that insists on some key can then send any placeholder for the twins.
"""

from __future__ import annotations

import hmac
from typing import Annotated

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import SecretStr
from starlette.exceptions import HTTPException

from server.openai_compat.errors import InvalidApiKey
from server.studio.auth import current_user
from use_cases.openai_compat import Caller

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="PersonaApiKey",
    description="A studio access token, the ghostwriter API key or the twin API key.",
)

INVALID_KEY = (
    "Invalid API key: send a studio access token, the ghostwriter API key or the twin API key as the bearer token."
)


def _has_value(secret: SecretStr | None) -> bool:
    return secret is not None and bool(secret.get_secret_value())


def _matches(raw: bytes, expected: SecretStr | None) -> bool:
    return (
        expected is not None
        and _has_value(expected)
        and hmac.compare_digest(raw, expected.get_secret_value().encode("utf-8"))
    )


def _is_jwt(token: str) -> bool:
    try:
        jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        return False
    return True


async def bearer_caller(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Caller:
    """Who the bearer token names (see the module's rule); 401 when it names nobody and the twins
    are not open, or when it is a studio token the studio refuses."""
    settings = request.app.state.services.settings
    twins_open = not _has_value(settings.twin_api_key)
    token = credentials.credentials if credentials is not None else ""
    # Starlette reads header bytes as latin-1: encoding back gives the bytes the client sent,
    # which the ghostwriter API compares (and keys budgets by).
    raw = token.encode("latin-1")
    if token and _matches(raw, settings.bo_api_key):
        return Caller(ghostwriter_key=raw, twins=twins_open)
    if token and _matches(raw, settings.twin_api_key):
        return Caller(twins=True)
    if token and _is_jwt(token):
        try:
            user = await current_user(request, token)
        except HTTPException as exc:
            if exc.status_code == 401:
                raise InvalidApiKey(f"Invalid studio access token: {exc.detail}") from None
            raise
        return Caller(studio_user=user, twins=twins_open)
    if twins_open:
        return Caller(twins=True)
    raise InvalidApiKey(INVALID_KEY)


CallerDep = Annotated[Caller, Depends(bearer_caller)]
