"""Password hashing and JWT verification (use_cases/studio/security.py)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import datetime, timedelta, timezone

import jwt
import pytest

from use_cases.studio.security import (
    AuthError,
    InvalidTokenError,
    Role,
    TokenClaims,
    WeakSecretError,
    dummy_verify_password,
    hash_password,
    issue_token,
    password_needs_rehash,
    verify_password,
    verify_token,
)

SECRET = "s" * 16 + "-test-secret-0123456789abcdef"
OTHER_SECRET = "o" * 16 + "-other-secret-0123456789abcdef"
ISSUER = "persona-service"
AUDIENCE = "persona-service-api"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(**overrides: object) -> dict[str, object]:
    now = int(datetime.now(timezone.utc).timestamp())
    claims: dict[str, object] = {
        "sub": "user-1",
        "role": "builder",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 600,
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _sign(claims: dict[str, object], secret: str = SECRET, header: dict | None = None) -> str:
    """Hand-made HS256 token, so tests do not depend on the code under test to build them."""
    head = _b64(json.dumps(header or {"alg": "HS256", "typ": "JWT"}).encode())
    body = _b64(json.dumps(claims).encode())
    signature = hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{_b64(signature)}"


def _verify(token: str, **kwargs: object) -> TokenClaims:
    options: dict[str, object] = {"secret": SECRET, "issuer": ISSUER, "audience": AUDIENCE}
    options.update(kwargs)
    return verify_token(token, **options)  # type: ignore[arg-type]


def _refused(token: str, **kwargs: object) -> str:
    with pytest.raises(InvalidTokenError) as caught:
        _verify(token, **kwargs)
    assert isinstance(caught.value, AuthError)
    return caught.value.detail


def test_round_trip() -> None:
    token = issue_token("user-42", Role.admin, secret=SECRET, issuer=ISSUER, audience=AUDIENCE, ttl_minutes=5)
    claims = _verify(token)
    assert claims.subject == "user-42"
    assert claims.role is Role.admin
    assert claims.expires_at - claims.issued_at == timedelta(minutes=5)
    assert claims.token_id
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "HS256"


def test_hand_signed_token_is_accepted() -> None:
    claims = _verify(_sign(_claims(role="user")))
    assert claims.subject == "user-1" and claims.role is Role.user


def test_alg_none_is_refused() -> None:
    head = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    body = _b64(json.dumps(_claims(role="admin")).encode())
    for token in (f"{head}.{body}.", f"{head}.{body}.{_b64(b'x')}"):
        assert _refused(token) == "Unsupported token algorithm"


@pytest.mark.filterwarnings("ignore::jwt.InsecureKeyLengthWarning")
def test_other_algorithm_is_refused() -> None:
    # Same secret, HS512: valid signature, but not on the fixed algorithm list.
    token = jwt.encode(_claims(), SECRET.encode(), algorithm="HS512")
    assert _refused(token) == "Unsupported token algorithm"


def test_wrong_key_is_refused() -> None:
    assert _refused(_sign(_claims(), secret=OTHER_SECRET)) == "Invalid token signature"


def test_tampered_payload_is_refused() -> None:
    head, _, signature = _sign(_claims(role="user")).split(".")
    forged_body = _b64(json.dumps(_claims(role="admin")).encode())
    assert _refused(f"{head}.{forged_body}.{signature}") == "Invalid token signature"


def test_wrong_audience_is_refused() -> None:
    assert _refused(_sign(_claims(aud="someone-else"))) == "Invalid token audience"


def test_wrong_issuer_is_refused() -> None:
    assert _refused(_sign(_claims(iss="evil-issuer"))) == "Invalid token issuer"


def test_expired_is_refused() -> None:
    long_ago = datetime.now(timezone.utc) - timedelta(hours=2)
    token = issue_token("u", "user", secret=SECRET, issuer=ISSUER, audience=AUDIENCE, ttl_minutes=60, now=long_ago)
    assert _refused(token) == "Token expired"


@pytest.mark.parametrize("claim", ["sub", "iat", "exp", "aud", "iss", "role"])
def test_missing_claim_is_refused(claim: str) -> None:
    detail = _refused(_sign(_claims(**{claim: None})))
    assert claim in detail


def test_unknown_role_is_refused() -> None:
    assert _refused(_sign(_claims(role="superuser"))) == "Invalid token role"


def test_non_string_subject_is_refused() -> None:
    assert "subject" in _refused(_sign(_claims(sub=123)))


@pytest.mark.parametrize("token", ["", "garbage", "a.b.c", "a.b", "x" * 9000])
def test_malformed_is_refused(token: str) -> None:
    assert _refused(token) == "Malformed token"


def test_short_secret_is_refused() -> None:
    with pytest.raises(WeakSecretError, match="at least 32 bytes"):
        issue_token("u", "user", secret="too-short", issuer=ISSUER, audience=AUDIENCE, ttl_minutes=5)
    with pytest.raises(WeakSecretError):
        verify_token(_sign(_claims(), secret="too-short"), secret="too-short", issuer=ISSUER, audience=AUDIENCE)
    assert not issubclass(WeakSecretError, AuthError)  # a server fault, never a 401


def test_secret_str_like_object_is_accepted() -> None:
    class Wrapped:
        def get_secret_value(self) -> str:
            return SECRET

    token = issue_token("u", "builder", secret=Wrapped(), issuer=ISSUER, audience=AUDIENCE, ttl_minutes=1)
    assert verify_token(token, secret=Wrapped(), issuer=ISSUER, audience=AUDIENCE).role is Role.builder


def test_password_hash_round_trip() -> None:
    hashed = hash_password("correct horse battery staple")
    assert hashed.startswith("$argon2")
    assert "correct horse" not in hashed
    assert verify_password("correct horse battery staple", hashed)
    assert not verify_password("correct horse battery stapler", hashed)
    assert not verify_password("anything", "not-a-hash")
    assert hash_password("same") != hash_password("same")  # salted
    assert not password_needs_rehash(hashed)
    dummy_verify_password("whatever")  # must not raise
