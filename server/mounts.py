"""REST adapters mounted at configurable prefixes, with a start-up collision check."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, FastAPI

from runtime.errors import ConfigError


def _flat_routes(routes: Sequence[Any]) -> Iterator[Any]:
    """Every route, those of included routers too."""
    try:  # FastAPI 0.16x keeps an included router as one lazy entry in `routes`
        from fastapi.routing import iter_route_contexts
    except ImportError:  # pragma: no cover - older FastAPI copies included routes into `routes`
        return iter(routes)
    return iter_route_contexts(routes)


class MountCollisionError(ConfigError):
    """Two mounts (or a mount and a service route) claim the same method and path."""


@dataclass(frozen=True)
class RestMount:
    name: str
    router: APIRouter
    prefix: str


def normalise_prefix(prefix: str) -> str:
    prefix = (prefix or "").strip()
    if prefix in ("", "/"):
        return ""
    return "/" + prefix.strip("/")


_PARAM = re.compile(r"{\s*[^}:\s]*\s*(?::\s*([^}\s]*)\s*)?}")


def route_shape(path: str) -> str:
    """The path with its parameter names dropped, so `/personas/{persona_id}/chat` and
    `/personas/{account_id}/chat` compare equal. The converter is kept (`{x:path}` matches
    several segments, `{x}` one); `str` is the default converter."""

    def shape(match: re.Match) -> str:
        converter = match.group(1)
        return "{}" if converter in (None, "", "str") else "{:" + converter + "}"

    return _PARAM.sub(shape, path)


def _claims(prefix: str, routes: Sequence[Any]) -> dict[tuple[str, str], str]:
    """(method, path shape) -> the literal path, for every HTTP route (included routers too)."""
    claims: dict[tuple[str, str], str] = {}
    for route in _flat_routes(routes):
        route_path, methods = getattr(route, "path", None), getattr(route, "methods", None)
        if route_path is None or not methods:  # websockets, static mounts
            continue
        path = prefix + route_path
        for method in methods:
            claims.setdefault((method, route_shape(path)), path)
    return claims


def _prefix_setting(name: str) -> str:
    return f"{name.upper()}_PREFIX"


def check_collisions(app: FastAPI, mounts: list[RestMount]) -> None:
    """Two mounts (or a mount and an app route) claiming one method and path stop start-up.

    Paths compare with their parameter names dropped. A static path and a parameter path
    of the same shape (`/personas/owned`, `/personas/{id}`) are different claims, and the
    routes of one mount are never compared with each other."""
    owners: dict[tuple[str, str], tuple[str, str, str | None]] = {
        claim: ("the service", path, None) for claim, path in _claims("", app.routes).items()
    }
    for mount in mounts:
        claims = _claims(normalise_prefix(mount.prefix), mount.router.routes)
        # in path order, then method: the collision named is the first path both APIs claim
        for claim in sorted(claims, key=lambda c: (c[1], c[0])):
            if claim not in owners:
                continue
            owner, owner_path, owner_mount = owners[claim]
            method, path = claim[0], claims[claim]
            also = f" ({owner} as {owner_path})" if owner_path != path else ""
            fix = (
                f"give them different prefixes ({_prefix_setting(owner_mount)} or {_prefix_setting(mount.name)})"
                if owner_mount
                else f"choose another {_prefix_setting(mount.name)}"
            )
            raise MountCollisionError(f"The {mount.name} API and {owner} both claim {method} {path}{also}; {fix}.")
        for claim, path in claims.items():
            owners[claim] = (f"the {mount.name} API", path, mount.name)


def include_mounts(app: FastAPI, mounts: list[RestMount]) -> None:
    check_collisions(app, mounts)
    for mount in mounts:
        app.include_router(mount.router, prefix=normalise_prefix(mount.prefix), tags=[mount.name])
