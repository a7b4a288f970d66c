"""Studio personas: the caller's own, create one, update one, and find the one a path names."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, TypedDict

from runtime.errors import NotFoundError, ServiceError
from services.studio.access import CurrentUser
from services.studio.rag import check_collections, merge_rag, unknown_collections
from store import documents as docs_store
from store import studio as studio_store
from store.personas import create_persona as insert_persona
from store.studio import PersonaRef, StudioPersonaRow
from store.types import Pool
from store.users import get_user

PERSONA_NOT_FOUND = "Persona not found"
USER_NOT_FOUND = "Invalid user_id: User does not exist"


@dataclass(frozen=True)
class NewPersona:
    name: str
    creator_id: str
    description: str = ""
    system_prompt: str = ""
    model: str | None = None
    temperature: float | None = None
    # complete rag settings: db_collections, query_threshold, query_metric
    rag: dict[str, Any] = field(default_factory=dict)


class PersonaChanges(TypedDict, total=False):
    """The fields an update gives; a field left out keeps its stored value, and `rag` holds
    only the rag keys given (merged into the stored settings)."""

    persona_name: str
    creator_id: str
    description: str
    system_prompt: str
    model: str | None
    temperature: float | None
    rag: dict[str, Any]


# a changed field -> its personas column
_COLUMNS = {"persona_name": "name", "description": "description", "model": "model", "temperature": "temperature"}


def _persona_id(raw: str) -> int:
    if not re.fullmatch(r"[0-9]{1,18}", raw):
        raise NotFoundError(PERSONA_NOT_FOUND)
    return int(raw)


async def find_persona(pool: Pool, raw_id: str) -> StudioPersonaRow:
    """The studio persona a path names (every user may chat with every studio persona)."""
    row = await studio_store.get_studio_persona(pool, _persona_id(raw_id))
    if row is None:
        raise NotFoundError(PERSONA_NOT_FOUND)
    return row


async def _check_creator(pool: Pool, user: CurrentUser, creator_id: str) -> None:
    if await get_user(pool, creator_id) is None:
        raise NotFoundError(USER_NOT_FOUND)
    if not user.may_manage(creator_id):
        raise ServiceError("Only an admin can set creator_id to another user")


async def owned_personas(pool: Pool, user: CurrentUser) -> list[PersonaRef]:
    return await studio_store.list_owned(pool, user.id)


async def create_persona(pool: Pool, user: CurrentUser, new: NewPersona) -> int:
    """A new persona owned by `creator_id` (a builder may only name themselves); its id."""
    collections = list(new.rag.get("db_collections") or [])
    await _check_creator(pool, user, new.creator_id)
    await check_collections(pool, user, collections)
    try:
        return await insert_persona(
            pool,
            kind=studio_store.KIND,
            name=new.name,
            description=new.description,
            system_prompt=new.system_prompt,
            owner_id=new.creator_id,
            model=new.model,
            temperature=new.temperature,
            attributes={"rag": new.rag},
            collections=collections,
        )
    except docs_store.CollectionsMissing as exc:  # deleted between the check and the write
        raise unknown_collections(exc.names) from None


async def update_persona(pool: Pool, user: CurrentUser, raw_id: str, changes: PersonaChanges) -> None:
    """Apply the given fields to a persona its caller manages (others' answer 404). A new
    system prompt becomes a new version; rag keys are merged into the stored settings."""
    row = await find_persona(pool, raw_id)
    if not user.may_manage(row["owner_id"]):
        raise NotFoundError(PERSONA_NOT_FOUND)
    fields: dict[str, Any] = {}
    if "creator_id" in changes and changes["creator_id"] != row["owner_id"]:
        await _check_creator(pool, user, changes["creator_id"])
        fields["owner_id"] = changes["creator_id"]
    fields.update({_COLUMNS[name]: value for name, value in changes.items() if name in _COLUMNS})
    if "rag" in changes:
        given = changes["rag"]
        await check_collections(pool, user, list(given.get("db_collections") or []))
        new_rag = merge_rag((row["attributes"] or {}).get("rag") or {}, given)
        fields["attributes"] = {**(row["attributes"] or {}), "rag": new_rag}
    prompt = changes.get("system_prompt")
    if fields or prompt is not None:
        rag = (fields.get("attributes") or {}).get("rag") or {}
        try:
            await studio_store.update_studio_persona(
                pool, row["id"], fields=fields, system_prompt=prompt, collections=list(rag.get("db_collections") or [])
            )
        except docs_store.CollectionsMissing as exc:  # deleted between the check and the write
            raise unknown_collections(exc.names) from None
