"""FastAPI dependencies of the studio API: bearer tokens, the current user, role checks.

401 (with `WWW-Authenticate: Bearer`) for a missing or refused token, 403 for a
valid user whose role may not use the route.

Tokens are signed with JWT_SECRET. When it is unset, a random 64-byte secret is
generated once and kept in `<DATA_DIR>/jwt-secret` (mode 0600), so a plain start
works and tokens stay valid across restarts (replicas must share one JWT_SECRET, or
one data dir). 503 when no secret can be had: JWT_SECRET shorter than 32 bytes, or
the secret file cannot be written or read.

The router's lifespan (`studio_lifespan`) runs in the app that mounts it: it prepares
the secret at start-up (one log line) and points the OpenAPI password flow's
`tokenUrl` at the mount's own `/auth/token`, so Swagger's Authorize posts to
`/studio/auth/token` (or wherever STUDIO_PREFIX puts it).
"""

from __future__ import annotations

import logging
import os
import secrets
import stat
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.security import OAuth2PasswordBearer

from runtime.settings import Settings
from server.mounts import normalise_prefix
from use_cases.studio.access import CurrentUser
from use_cases.studio.security import (
    MIN_SECRET_BYTES,
    InvalidTokenError,
    Role,
    WeakSecretError,
    issue_token,
    verify_token,
)
from use_cases.studio.users import token_user

log = logging.getLogger(__name__)

LOGIN_OPERATION_ID = "studio_login"
# Right for the default mount; `studio_lifespan` corrects the schema for the actual prefix.
DEFAULT_TOKEN_URL = normalise_prefix(Settings.model_fields["studio_prefix"].default) + "/auth/token"
bearer = OAuth2PasswordBearer(tokenUrl=DEFAULT_TOKEN_URL, auto_error=False)

SECRET_FILE_BYTES = 64
NO_SECRET = (
    "The studio API has no usable JWT signing secret: set JWT_SECRET (at least 32 bytes) "
    "or let the server write its secret file in DATA_DIR"
)


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(401, detail, headers={"WWW-Authenticate": "Bearer"})


# ---------------------------------------------------------------- the signing secret


class SecretUnavailable(RuntimeError):
    pass


def load_or_create_secret_file(path: Path) -> tuple[str, bool]:
    """The secret kept in `path` and whether it was created now. A missing file is created
    with 64 random bytes (URL-safe base64) and mode 0600. The file appears atomically with
    its content (a hard link to a finished temporary file), so processes starting together
    on one data dir agree on one secret."""
    created = False
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_urlsafe(SECRET_FILE_BYTES) + "\n")
                out.flush()
                os.fsync(out.fileno())
            try:
                os.link(tmp, path)
                created = True
            except FileExistsError:
                pass  # another process was first: use its secret
        finally:
            tmp.unlink(missing_ok=True)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        log.warning("%s is readable by other users (mode %o); chmod 600 it", path, mode)
    return path.read_text().strip(), created


def _file_secret(app: Any, settings: Settings) -> str:
    """The generated secret, read (or created) once per app and kept in `app.state`."""
    cached = getattr(app.state, "studio_jwt_secret", None)
    if cached:
        return cached
    path = settings.jwt_secret_file
    first_failure = not getattr(app.state, "studio_jwt_secret_failed", False)
    try:
        secret, created = load_or_create_secret_file(path)
    except OSError as exc:
        if first_failure:
            log.error(
                "JWT_SECRET is not set and the secret file %s cannot be used (%s); the studio "
                "API answers 503 until JWT_SECRET is set or the file can be written",
                path,
                exc,
            )
        app.state.studio_jwt_secret_failed = True
        raise SecretUnavailable(NO_SECRET) from None
    if len(secret.encode()) < MIN_SECRET_BYTES:
        if first_failure:
            log.error(
                "%s holds no usable secret (shorter than %d bytes): delete it to have a new one "
                "generated, or set JWT_SECRET",
                path,
                MIN_SECRET_BYTES,
            )
        app.state.studio_jwt_secret_failed = True
        raise SecretUnavailable(NO_SECRET)
    log.info(
        "JWT_SECRET is not set: studio tokens are signed with the random secret %s %s",
        "generated in" if created else "kept in",
        path,
    )
    app.state.studio_jwt_secret = secret
    return secret


def jwt_secret(request: Request) -> str:
    """JWT_SECRET when set, else the generated secret of the data dir; 503 when neither works."""
    settings = request.app.state.services.settings
    if settings.jwt_secret is not None and settings.jwt_secret.get_secret_value():
        return settings.jwt_secret.get_secret_value()
    try:
        return _file_secret(request.app, settings)
    except SecretUnavailable as exc:
        raise HTTPException(503, str(exc)) from None


# ---------------------------------------------------------------- start-up of the mounting app


def _point_token_url_at_mount(app: FastAPI) -> None:
    """Wrap `app.openapi` so the password flow's tokenUrl is the path this app serves the
    login route at (found by its operationId), whatever prefix the studio router has."""
    if getattr(app.openapi, "studio_token_url", False):
        return
    original = app.openapi

    def openapi() -> dict[str, Any]:
        schema = original()
        token_path = next(
            (
                path
                for path, operations in schema.get("paths", {}).items()
                if (operations.get("post") or {}).get("operationId") == LOGIN_OPERATION_ID
            ),
            None,
        )
        scheme = schema.get("components", {}).get("securitySchemes", {}).get(bearer.scheme_name) or {}
        password_flow = (scheme.get("flows") or {}).get("password")
        if token_path and password_flow is not None:
            password_flow["tokenUrl"] = token_path
        return schema

    openapi.studio_token_url = True  # type: ignore[attr-defined]
    app.openapi = openapi  # type: ignore[method-assign]


@asynccontextmanager
async def studio_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Start-up work of the studio API in the app that mounts it; never stops the start-up."""
    try:
        _point_token_url_at_mount(app)
        services = getattr(app.state, "services", None)
        if services is not None:
            settings = services.settings
            explicit = settings.jwt_secret.get_secret_value() if settings.jwt_secret is not None else ""
            if explicit and len(explicit.encode()) < MIN_SECRET_BYTES:
                log.error(
                    "JWT_SECRET is shorter than %d bytes: the studio API answers 503 until it is longer",
                    MIN_SECRET_BYTES,
                )
            elif not explicit:
                _file_secret(app, settings)
    except SecretUnavailable:
        pass  # logged; the studio routes answer 503 with the reason
    yield


# ---------------------------------------------------------------- tokens and users


def make_token(request: Request, user_id: str, role: str) -> str:
    settings = request.app.state.services.settings
    try:
        return issue_token(
            user_id,
            role,
            secret=jwt_secret(request),
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            ttl_minutes=settings.jwt_ttl_minutes,
        )
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
    user = await token_user(request.app.state.services.pool, claims.subject)
    if user is None:
        raise _unauthorized("The token's user no longer exists")
    return user


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
