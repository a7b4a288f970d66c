"""FastAPI dependencies of the studio API: bearer tokens, the current user, role checks.

401 (with `WWW-Authenticate: Bearer`) for a missing or refused token, 403 for a
valid user whose role may not use the route, 503 when JWT_SECRET is not set.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Callable

from fastapi import Depends, HTTPException, Request
from fastapi.security import OAuth2PasswordBearer

from server.security import InvalidTokenError, Role, WeakSecretError, issue_token, verify_token
from store.users import get_user

bearer = OAuth2PasswordBearer(tokenUrl="auth/token", auto_error=False)


@dataclass(frozen=True)
class CurrentUser:
    id: str
    username: str
    role: Role


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(401, detail, headers={"WWW-Authenticate": "Bearer"})


def jwt_secret(request: Request) -> str:
    """The configured secret, or a 503 that says which setting is missing."""
    settings = request.app.state.services.settings
    if settings.jwt_secret is None or not settings.jwt_secret.get_secret_value():
        raise HTTPException(503, "The studio API needs JWT_SECRET to be set on the server")
    return settings.jwt_secret.get_secret_value()


def make_token(request: Request, user_id: str, role: str) -> str:
    settings = request.app.state.services.settings
    try:
        return issue_token(user_id, role, secret=jwt_secret(request), issuer=settings.jwt_issuer,
                           audience=settings.jwt_audience, ttl_minutes=settings.jwt_ttl_minutes)
    except WeakSecretError as exc:
        raise HTTPException(503, str(exc)) from None


async def current_user(request: Request, token: Annotated[str | None, Depends(bearer)]) -> CurrentUser:
    """The user named by a valid bearer token; the role is read from the database."""
    if not token:
        raise _unauthorized("Not authenticated: send an 'Authorization: Bearer <token>' header")
    settings = request.app.state.services.settings
    secret = jwt_secret(request)
    try:
        claims = verify_token(token, secret=secret, issuer=settings.jwt_issuer, audience=settings.jwt_audience)
    except InvalidTokenError as exc:
        raise _unauthorized(exc.detail) from None
    except WeakSecretError as exc:
        raise HTTPException(503, str(exc)) from None
    user = await get_user(request.app.state.services.pool, claims.subject)
    if user is None:
        raise _unauthorized("The token's user no longer exists")
    return CurrentUser(id=user["id"], username=user["username"], role=Role(user["role"]))


def require_roles(*roles: Role) -> Callable:
    """A dependency that lets only the given roles through (403 otherwise)."""
    names = " or ".join(r.value for r in roles)

    async def check(user: Annotated[CurrentUser, Depends(current_user)]) -> CurrentUser:
        if user.role not in roles:
            raise HTTPException(403, f"This action requires the {names} role")
        return user

    return check


AnyUser = Annotated[CurrentUser, Depends(current_user)]
Builder = Annotated[CurrentUser, Depends(require_roles(Role.builder, Role.admin))]
Admin = Annotated[CurrentUser, Depends(require_roles(Role.admin))]
