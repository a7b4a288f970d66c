"""Studio persona versions: every change to a versioned setting is a new immutable version that
records all of them (name, description, system prompt, model, temperature, attributes with the
rag settings), who made it and what it changed. The `personas` row holds the current version's
settings; a rollback copies a version's settings back and points `current_version` at it.

Also the one-transaction writes of an import: a persona with all its versions, and the
collections (with their embedded chunks) it brings along.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, TypedDict, cast

from psycopg.types.json import Jsonb

from store.documents import lock_collections
from store.types import Connection, Pool, one_row, vector_literal

KIND = "studio"

# A version without recorded settings (saved outside the studio writers) shows its persona's.
_SETTINGS = """CASE WHEN v.name IS NULL THEN p.name ELSE v.name END AS name,
               CASE WHEN v.name IS NULL THEN p.description ELSE v.description END AS description,
               CASE WHEN v.name IS NULL THEN p.model ELSE v.model END AS model,
               CASE WHEN v.name IS NULL THEN p.temperature ELSE v.temperature END AS temperature,
               CASE WHEN v.name IS NULL THEN p.attributes ELSE v.attributes END AS attributes"""
_VERSION_SELECT = f"""SELECT v.version, {_SETTINGS}, v.system_prompt, v.created_by, v.created_at, v.changes
                        FROM personas p JOIN persona_versions v ON v.persona_id = p.id"""


class StudioVersionRow(TypedDict):
    version: int
    name: str
    description: str
    system_prompt: str
    model: str | None
    temperature: float | None
    attributes: dict[str, Any]
    created_by: str | None
    created_at: datetime
    changes: list[str]


class NewVersion(TypedDict):
    """A version to store; `created_at` None means now."""

    version: int
    name: str
    description: str
    system_prompt: str
    model: str | None
    temperature: float | None
    attributes: dict[str, Any]
    created_by: str | None
    created_at: datetime | None
    changes: list[str]


class NewDocument(TypedDict):
    file_name: str
    doc_path: str
    chunks: list[str]
    embeddings: list[list[float]]


class NewCollection(TypedDict):
    name: str
    description: str
    documents: list[NewDocument]


class CollectionTaken(LookupError):
    """A collection an import would create exists already (it was created meanwhile)."""

    def __init__(self, name: str):
        super().__init__(name)
        self.name = name


async def list_versions(pool: Pool, persona_id: int, limit: int | None) -> tuple[list[StudioVersionRow], int]:
    """The newest `limit` versions (all when None), newest first, and how many there are."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            f"{_VERSION_SELECT} WHERE p.id = %s ORDER BY v.version DESC LIMIT %s", (persona_id, limit)
        )
        rows = cast(list[StudioVersionRow], await cur.fetchall())
        cur = await conn.execute("SELECT count(*) AS n FROM persona_versions WHERE persona_id = %s", (persona_id,))
        total = int(one_row(await cur.fetchone())["n"])
    return rows, total


async def _insert_versions(conn: Connection, persona_id: int, versions: Sequence[NewVersion]) -> None:
    async with conn.cursor() as cur:
        await cur.executemany(
            """INSERT INTO persona_versions (persona_id, version, system_prompt, name, description, model,
                                             temperature, attributes, created_by, changes, created_at)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, COALESCE(%s, now()))""",
            [
                (
                    persona_id,
                    v["version"],
                    v["system_prompt"],
                    v["name"],
                    v["description"],
                    v["model"],
                    v["temperature"],
                    Jsonb(v["attributes"]),
                    v["created_by"],
                    Jsonb(v["changes"]),
                    v["created_at"],
                )
                for v in versions
            ],
        )


async def _create_collections(conn: Connection, owner_id: str, collections: Sequence[NewCollection]) -> None:
    for collection in collections:
        cur = await conn.execute(
            """INSERT INTO document_collections (name, owner_id, description) VALUES (%s, %s, %s)
               ON CONFLICT (name) DO NOTHING RETURNING name""",
            (collection["name"], owner_id, collection["description"]),
        )
        if await cur.fetchone() is None:
            raise CollectionTaken(collection["name"])
        async with conn.cursor() as chunk_cur:
            await chunk_cur.executemany(
                """INSERT INTO document_chunks (collection, file_name, doc_path, chunk_index, content, embedding)
                   VALUES (%s, %s, %s, %s, %s, %s::vector)""",
                [
                    (collection["name"], doc["file_name"], doc["doc_path"], i, text, vector_literal(vec))
                    for doc in collection["documents"]
                    for i, (text, vec) in enumerate(zip(doc["chunks"], doc["embeddings"], strict=True))
                ],
            )


async def insert_studio_persona(
    pool: Pool,
    *,
    owner_id: str,
    versions: Sequence[NewVersion],
    current_version: int,
    collections: Sequence[str] = (),
    new_collections: Sequence[NewCollection] = (),
) -> int:
    """A new studio persona with `versions` (the current one's settings go on the persona row),
    after creating `new_collections` (owned by `owner_id`); all in one transaction, so a failure
    stores nothing. Every collection the versions name (`collections`) must exist when it is saved
    (`store.documents.CollectionsMissing`); a new collection whose name is taken raises
    `CollectionTaken`. Returns the persona id."""
    current = next(v for v in versions if v["version"] == current_version)
    async with pool.connection() as conn, conn.transaction():
        await _create_collections(conn, owner_id, new_collections)
        await lock_collections(conn, collections)
        cur = await conn.execute(
            """INSERT INTO personas (kind, name, description, owner_id, current_version, model, temperature,
                                     attributes)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING id""",
            (
                KIND,
                current["name"],
                current["description"],
                owner_id,
                current_version,
                current["model"],
                current["temperature"],
                Jsonb(current["attributes"]),
            ),
        )
        persona_id = int(one_row(await cur.fetchone())["id"])
        await _insert_versions(conn, persona_id, versions)
    return persona_id


async def save_change(
    pool: Pool,
    persona_id: int,
    *,
    settings: Mapping[str, Any],
    owner_id: str | None,
    system_prompt: str | None,
    created_by: str,
    changes: Sequence[str],
    collections: Sequence[str] = (),
) -> int | None:
    """Apply an update in one transaction: `settings` (name, description, model, temperature,
    attributes) and a new `system_prompt` become a new version (numbered after the highest, so
    one made after a rollback never collides) made current; `owner_id` (a new owner) is not
    versioned. Returns the new version, or None when `changes` is empty (nothing versioned
    changed). `collections` must still exist (`store.documents.CollectionsMissing`)."""
    allowed = {"name", "description", "model", "temperature", "attributes"}
    if set(settings) - allowed:
        raise ValueError(f"cannot version {sorted(set(settings) - allowed)}")
    async with pool.connection() as conn, conn.transaction():
        await lock_collections(conn, collections)
        cur = await conn.execute(
            """SELECT p.name, p.description, p.model, p.temperature, p.attributes, v.system_prompt,
                      (SELECT max(version) FROM persona_versions WHERE persona_id = p.id) AS latest
                 FROM personas p JOIN persona_versions v ON v.persona_id = p.id AND v.version = p.current_version
                WHERE p.id = %s FOR UPDATE OF p""",
            (persona_id,),
        )
        row = await cur.fetchone()
        if row is None:
            return None
        # versions saved without their settings (outside these writers) keep the ones they had
        await conn.execute(
            """UPDATE persona_versions v
                  SET name = p.name, description = p.description, model = p.model, temperature = p.temperature,
                      attributes = p.attributes, created_by = COALESCE(v.created_by, p.owner_id)
                 FROM personas p
                WHERE p.id = %s AND v.persona_id = p.id AND v.name IS NULL""",
            (persona_id,),
        )
        version: int | None = None
        if changes:
            version = int(row["latest"]) + 1
            new = {**{k: row[k] for k in allowed}, **settings}
            await _insert_versions(
                conn,
                persona_id,
                [
                    NewVersion(
                        version=version,
                        name=new["name"],
                        description=new["description"],
                        system_prompt=row["system_prompt"] if system_prompt is None else system_prompt,
                        model=new["model"],
                        temperature=new["temperature"],
                        attributes=new["attributes"] or {},
                        created_by=created_by,
                        created_at=None,
                        changes=list(changes),
                    )
                ],
            )
        columns: dict[str, Any] = {**settings}
        if owner_id is not None:
            columns["owner_id"] = owner_id
        if version is not None:
            columns["current_version"] = version
        if columns:
            sets = ", ".join(f"{name} = %s" for name in columns)
            values = [Jsonb(v) if name == "attributes" else v for name, v in columns.items()]
            await conn.execute(f"UPDATE personas SET {sets}, updated_at = now() WHERE id = %s", (*values, persona_id))
    return version


async def rollback(pool: Pool, persona_id: int, version: int) -> bool:
    """Make `version` current again with all its settings (the history keeps every version);
    False when there is no such version. The collections it names must still exist
    (`store.documents.CollectionsMissing`)."""
    async with pool.connection() as conn, conn.transaction():
        cur = await conn.execute(
            f"{_VERSION_SELECT} WHERE p.id = %s AND v.version = %s FOR UPDATE OF p", (persona_id, version)
        )
        row = await cur.fetchone()
        if row is None:
            return False
        rag = (row["attributes"] or {}).get("rag") or {}
        await lock_collections(conn, list(rag.get("db_collections") or []))
        await conn.execute(
            """UPDATE personas SET name = %s, description = %s, model = %s, temperature = %s, attributes = %s,
                                   current_version = %s, updated_at = now()
                WHERE id = %s""",
            (
                row["name"],
                row["description"],
                row["model"],
                row["temperature"],
                Jsonb(row["attributes"] or {}),
                version,
                persona_id,
            ),
        )
    return True
