"""REST adapters mounted at configurable prefixes, with a start-up collision check."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute


class MountCollisionError(RuntimeError):
    pass


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


def _claims(prefix: str, router: APIRouter) -> set[tuple[str, str]]:
    return {(method, prefix + route.path) for route in router.routes if isinstance(route, APIRoute)
            for method in route.methods}


def check_collisions(app: FastAPI, mounts: list[RestMount]) -> None:
    """Two mounts (or a mount and an app route) claiming one method and path stop start-up."""
    owners: dict[tuple[str, str], str] = {}
    for path, operations in app.openapi().get("paths", {}).items():
        for method in operations:
            owners[(method.upper(), path)] = "the service"
    app.openapi_schema = None  # rebuilt later with the mounts included
    for mount in mounts:
        for claim in sorted(_claims(normalise_prefix(mount.prefix), mount.router)):
            if claim in owners:
                raise MountCollisionError(
                    f"The {mount.name} API and {owners[claim]} both claim {claim[0]} {claim[1]}; "
                    f"give them different prefixes (e.g. {mount.name.upper()}_PREFIX)."
                )
            owners[claim] = f"the {mount.name} API"


def include_mounts(app: FastAPI, mounts: list[RestMount]) -> None:
    check_collisions(app, mounts)
    for mount in mounts:
        app.include_router(mount.router, prefix=normalise_prefix(mount.prefix), tags=[mount.name])
