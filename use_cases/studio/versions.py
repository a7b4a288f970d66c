"""A studio persona's versions: list them (newest first) and roll back to one. Both are for the
persona's creator or an admin, like an update; anyone else is told the persona does not exist."""

from __future__ import annotations

from dataclasses import dataclass

from runtime.errors import NotFoundError, ServiceError
from store import documents as docs_store
from store import versions as versions_store
from store.studio import StudioPersonaRow
from store.types import Pool
from store.versions import StudioVersionRow
from use_cases.studio.access import CurrentUser
from use_cases.studio.personas import PERSONA_NOT_FOUND, find_persona


@dataclass(frozen=True)
class PersonaVersions:
    persona_id: int
    versions: list[StudioVersionRow]  # newest first
    total: int


async def managed_persona(pool: Pool, user: CurrentUser, raw_id: str) -> StudioPersonaRow:
    """The persona a path names, if its caller may manage it (404 otherwise, as for an unknown id)."""
    row = await find_persona(pool, raw_id)
    if not user.may_manage(row["owner_id"]):
        raise NotFoundError(PERSONA_NOT_FOUND)
    return row


async def list_versions(pool: Pool, user: CurrentUser, raw_id: str, limit: int) -> PersonaVersions:
    """The newest `limit` versions, newest first, and how many there are."""
    row = await managed_persona(pool, user, raw_id)
    rows, total = await versions_store.list_versions(pool, row["id"], limit)
    return PersonaVersions(row["id"], rows, total)


async def rollback(pool: Pool, user: CurrentUser, raw_id: str, version: int) -> StudioPersonaRow:
    """Make an earlier version current again with all its settings; the next chat uses it. The
    history keeps every version; the next change is numbered after the highest."""
    row = await managed_persona(pool, user, raw_id)
    try:
        found = await versions_store.rollback(pool, row["id"], version)
    except docs_store.CollectionsMissing as exc:
        raise ServiceError(
            f"Version {version} searches collection(s) that no longer exist: {', '.join(exc.names)}"
        ) from None
    if not found:
        raise ServiceError(f"Version {version} not found in history")
    return await find_persona(pool, str(row["id"]))
