"""Document collections: create, list, delete, and find one its caller manages (a builder's
own; an admin's any). A collection another builder owns answers 404, as a missing one does."""

from __future__ import annotations

from runtime.errors import NotFoundError, ServiceError
from store import documents as docs_store
from store.documents import CollectionRow, CollectionSummaryRow, CollectionUserRow, DeletedCounts
from store.types import Pool
from use_cases.studio.access import CurrentUser

COLLECTION_NOT_FOUND = "Collection not found"


async def find_collection(pool: Pool, user: CurrentUser, name: str) -> CollectionRow:
    row = await docs_store.get_collection(pool, name)
    if row is None or not user.may_manage(row["owner_id"]):
        raise NotFoundError(COLLECTION_NOT_FOUND)
    return row


async def create_collection(pool: Pool, user: CurrentUser, *, name: str, description: str) -> None:
    """A new collection owned by the caller; 409 when the name is taken."""
    if not await docs_store.create_collection(pool, name=name, owner_id=user.id, description=description):
        raise ServiceError("Collection already exists", status=409)


async def list_collections(pool: Pool, user: CurrentUser) -> list[CollectionSummaryRow]:
    """The caller's collections (an admin's: all) with document and chunk counts."""
    return await docs_store.list_collections(pool, None if user.is_admin else user.id)


async def delete_collection(pool: Pool, user: CurrentUser, name: str) -> DeletedCounts:
    """Delete a collection and its documents; refused (409) while a persona names it."""
    await find_collection(pool, user, name)
    try:
        counts = await docs_store.delete_collection(pool, name)
    except docs_store.CollectionInUse as exc:
        raise ServiceError(_in_use_detail(name, exc.personas, user), status=409) from None
    if counts is None:  # deleted concurrently
        raise NotFoundError(COLLECTION_NOT_FOUND)
    return counts


def _in_use_detail(name: str, personas: list[CollectionUserRow], user: CurrentUser) -> str:
    """Which personas still name the collection; ids of personas the caller cannot see are only counted."""
    visible = [str(p["id"]) for p in personas if user.may_manage(p["owner_id"])]
    hidden = len(personas) - len(visible)
    parts = [f"{'persona' if len(visible) == 1 else 'personas'} {', '.join(visible)}"] if visible else []
    if hidden:
        parts.append(f"{hidden} {'persona' if hidden == 1 else 'personas'} of other users")
    return f"Collection '{name}' is still used by {' and '.join(parts)}: remove it from their rag.db_collections first"
