"""Password hashing and JWT access tokens for the studio API.

Passwords: pwdlib's recommended hasher (argon2id).
Tokens: PyJWT, HS256 only, with `exp`, `iat`, `sub`, `role`, `iss` and `aud`
required and checked. Every verification failure raises `InvalidTokenError`
(an `AuthError`) whose `detail` is short and safe to return in a 401 body.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from enum import Enum
from typing import Any, Protocol

import jwt
from pwdlib import PasswordHash
from pwdlib.exceptions import UnknownHashError

ALGORITHM = "HS256"
ALGORITHMS: tuple[str, ...] = (ALGORITHM,)
MIN_SECRET_BYTES = 32
REQUIRED_CLAIMS: tuple[str, ...] = ("exp", "iat", "sub", "iss", "aud", "role")


class Role(str, Enum):
    admin = "admin"
    builder = "builder"
    user = "user"


class AuthError(Exception):
    """An authentication failure; `detail` is meant for the client (HTTP 401)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class InvalidTokenError(AuthError):
    """The bearer token was refused."""


class WeakSecretError(ValueError):
    """The signing secret is too short.

    A server misconfiguration, not a client error, so it is deliberately not an
    `AuthError`: it must surface as a 500 / start-up failure, never as a 401.
    """


class _HasSecretValue(Protocol):
    def get_secret_value(self) -> str: ...


Secret = str | bytes | _HasSecretValue


@dataclass(frozen=True)
class TokenClaims:
    subject: str
    role: Role
    issued_at: datetime
    expires_at: datetime
    token_id: str | None = None


# ---------------------------------------------------------------- passwords

_password_hash = PasswordHash.recommended()
# A real hash of a random password, verified against when a user does not exist
# so that login takes the same time for unknown and known usernames.
_DUMMY_HASH = _password_hash.hash(uuid.uuid4().hex)


def hash_password(password: str) -> str:
    return _password_hash.hash(password)


def verify_password(password: str, password_hash: str) -> bool:
    """True when `password` matches; False for a mismatch or an unreadable hash."""
    try:
        return _password_hash.verify(password, password_hash)
    except (UnknownHashError, ValueError):
        return False


def dummy_verify_password(password: str) -> None:
    """Spend the time of one verification (use when the user is unknown)."""
    verify_password(password, _DUMMY_HASH)


def password_needs_rehash(password_hash: str) -> bool:
    """True when the hash uses outdated parameters and should be re-hashed at login."""
    try:
        return _password_hash.current_hasher.check_needs_rehash(password_hash)
    except (UnknownHashError, ValueError):
        return True


# ---------------------------------------------------------------- tokens


def secret_bytes(secret: Secret) -> bytes:
    """The secret as bytes, refusing secrets shorter than 32 bytes (RFC 7518 3.2)."""
    if hasattr(secret, "get_secret_value"):
        secret = secret.get_secret_value()
    raw = secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)
    if len(raw) < MIN_SECRET_BYTES:
        raise WeakSecretError(
            f"The JWT secret must be at least {MIN_SECRET_BYTES} bytes long "
            f"(got {len(raw)}); set JWT_SECRET to a long random value, "
            "e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`."
        )
    return raw


def issue_token(
    subject: str,
    role: Role | str,
    *,
    secret: Secret,
    issuer: str,
    audience: str,
    ttl_minutes: int,
    now: datetime | None = None,
) -> str:
    """A signed HS256 access token for `subject` with `role`, valid for `ttl_minutes`."""
    if not subject:
        raise ValueError("subject must not be empty")
    if ttl_minutes <= 0:
        raise ValueError("ttl_minutes must be positive")
    role = Role(role)
    issued = (now or datetime.now(timezone.utc)).replace(microsecond=0)
    payload: dict[str, Any] = {
        "sub": subject,
        "role": role.value,
        "iss": issuer,
        "aud": audience,
        "iat": int(issued.timestamp()),
        "exp": int((issued + timedelta(minutes=ttl_minutes)).timestamp()),
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(payload, secret_bytes(secret), algorithm=ALGORITHM)


# Most specific first: several of these subclass DecodeError / InvalidTokenError.
_ERROR_DETAILS: tuple[tuple[type[Exception], str], ...] = (
    (jwt.ExpiredSignatureError, "Token expired"),
    (jwt.ImmatureSignatureError, "Token not yet valid"),
    (jwt.InvalidSignatureError, "Invalid token signature"),
    (jwt.InvalidAudienceError, "Invalid token audience"),
    (jwt.InvalidIssuerError, "Invalid token issuer"),
    (jwt.InvalidAlgorithmError, "Unsupported token algorithm"),
    (jwt.InvalidIssuedAtError, "Invalid token issue time"),
    (jwt.exceptions.InvalidSubjectError, "Invalid token subject"),
    (jwt.DecodeError, "Malformed token"),
)


def _detail_for(exc: jwt.PyJWTError) -> str:
    if isinstance(exc, jwt.MissingRequiredClaimError):
        return f"Token is missing the '{exc.claim}' claim"
    for exc_type, detail in _ERROR_DETAILS:
        if isinstance(exc, exc_type):
            return detail
    return "Invalid token"


def verify_token(
    token: str,
    *,
    secret: Secret,
    issuer: str,
    audience: str,
    leeway_s: int = 0,
) -> TokenClaims:
    """Verify signature, algorithm, expiry, issuer and audience; return the claims.

    Raises `InvalidTokenError` for any refused token and `WeakSecretError` when the
    configured secret is too short (checked before the token is looked at).
    """
    key = secret_bytes(secret)
    if not isinstance(token, str) or not token or len(token) > 8192:
        raise InvalidTokenError("Malformed token")
    try:
        payload = jwt.decode(
            token,
            key,
            algorithms=list(ALGORITHMS),
            audience=audience,
            issuer=issuer,
            leeway=leeway_s,
            options={
                "require": list(REQUIRED_CLAIMS),
                "verify_signature": True,
                "verify_exp": True,
                "verify_iat": True,
                "verify_aud": True,
                "verify_iss": True,
            },
        )
    except jwt.PyJWTError as exc:
        raise InvalidTokenError(_detail_for(exc)) from None

    subject = payload["sub"]
    if not isinstance(subject, str) or not subject:
        raise InvalidTokenError("Invalid token subject")
    try:
        role = Role(payload["role"])
    except (ValueError, TypeError):
        raise InvalidTokenError("Invalid token role") from None
    jti = payload.get("jti")
    return TokenClaims(
        subject=subject,
        role=role,
        issued_at=datetime.fromtimestamp(payload["iat"], timezone.utc),
        expires_at=datetime.fromtimestamp(payload["exp"], timezone.utc),
        token_id=jti if isinstance(jti, str) else None,
    )
