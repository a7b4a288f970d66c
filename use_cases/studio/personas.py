"""Studio personas: the caller's own, create one, update one, and find the one a path names."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, TypedDict

from runtime.errors import NotFoundError, ServiceError
from store import documents as docs_store
from store import studio as studio_store
from store import versions as versions_store
from store.studio import PersonaRef, StudioPersonaRow
from store.types import Pool
from store.users import get_user
from store.versions import NewVersion
from use_cases.studio.access import CurrentUser
from use_cases.studio.rag import check_collections, merge_rag, unknown_collections

PERSONA_NOT_FOUND = "Persona not found"
CREATED = "created"  # the `changes` of a persona's first version
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
    facts: dict[str, Any] = field(default_factory=dict)  # declared facts the chat's fact guard checks


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
    facts: dict[str, Any] | None


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
    """A new persona owned by `creator_id` (a builder may only name themselves); its id.
    Its settings are version 1."""
    collections = list(new.rag.get("db_collections") or [])
    await _check_creator(pool, user, new.creator_id)
    await check_collections(pool, user, collections)
    first = NewVersion(
        version=1,
        name=new.name,
        description=new.description,
        system_prompt=new.system_prompt,
        model=new.model,
        temperature=new.temperature,
        attributes={"rag": new.rag, **({"facts": new.facts} if new.facts else {})},
        created_by=user.id,
        created_at=None,
        changes=[CREATED],
    )
    try:
        return await versions_store.insert_studio_persona(
            pool, owner_id=new.creator_id, versions=[first], current_version=1, collections=collections
        )
    except docs_store.CollectionsMissing as exc:  # deleted between the check and the write
        raise unknown_collections(exc.names) from None


async def update_persona(pool: Pool, user: CurrentUser, raw_id: str, changes: PersonaChanges) -> None:
    """Apply the given fields to a persona its caller manages (others' answer 404). A change to
    the name, description, system prompt, model, temperature or rag settings is a new version
    (naming what changed); a new creator is not. Rag keys are merged into the stored settings."""
    row = await find_persona(pool, raw_id)
    if not user.may_manage(row["owner_id"]):
        raise NotFoundError(PERSONA_NOT_FOUND)
    owner: str | None = None
    if "creator_id" in changes and changes["creator_id"] != row["owner_id"]:
        await _check_creator(pool, user, changes["creator_id"])
        owner = changes["creator_id"]
    settings: dict[str, Any] = {}
    changed: list[str] = []
    current: dict[str, Any] = dict(row)
    given_fields: dict[str, Any] = dict(changes)
    for name, column in _COLUMNS.items():
        if name in given_fields and given_fields[name] != current[column]:
            settings[column] = given_fields[name]
            changed.append(name)
    collections: list[str] = []
    if "rag" in changes:
        given = changes["rag"]
        await check_collections(pool, user, list(given.get("db_collections") or []))
        stored = (row["attributes"] or {}).get("rag") or {}
        new_rag = merge_rag(stored, given)
        if new_rag != stored:
            settings["attributes"] = {**(row["attributes"] or {}), "rag": new_rag}
            changed.append("rag")
            collections = list(new_rag.get("db_collections") or [])
    if "facts" in changes:
        facts = {k: v for k, v in (changes["facts"] or {}).items() if v is not None}
        attributes = dict(settings.get("attributes") or row["attributes"] or {})
        if facts != (attributes.get("facts") or {}):
            if facts:
                attributes["facts"] = facts
            else:
                attributes.pop("facts", None)
            settings["attributes"] = attributes
            changed.append("facts")
    prompt = changes.get("system_prompt")
    if prompt is not None and prompt != row["system_prompt"]:
        changed.append("system_prompt")
    else:
        prompt = None
    if not changed and owner is None:
        return
    try:
        await versions_store.save_change(
            pool,
            row["id"],
            settings=settings,
            owner_id=owner,
            system_prompt=prompt,
            created_by=user.id,
            changes=changed,
            collections=collections,
        )
    except docs_store.CollectionsMissing as exc:  # deleted between the check and the write
        raise unknown_collections(exc.names) from None
