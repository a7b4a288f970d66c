"""Studio personas leave and arrive as files: export a card (JSON or PNG) or a bundle, import a
card (V3, V2 or V1, JSON or PNG) or a studio bundle as a new persona of the caller.

Export is for the persona's creator or an admin (others: 404, as for update).

A card becomes one version. With our own extension (a card this service exported) its system
prompt, model, temperature and rag come back exactly; a card from another tool gets the system
prompt its fields assemble to (`use_cases.portable.card.assemble_prompt`) and the service's
default model. The card's other fields are kept with the persona, so exporting it again gives
the same card.

A bundle (`persona-bundle/v1`, kind studio) holds every version with all its settings and a
manifest of the collections the versions search: names, and per document its path, file name,
chunk count and the sha256 of its chunk texts (a JSON array of strings, UTF-8); with
`include_documents` also the chunk texts. Importing restores every version under the same
numbers and the same current version. A collection the caller manages here is used as it is; a
missing one is created from the bundle's documents when they are included (chunks embedded
again); any other is removed from the versions' rag settings and named in `warnings`.

Everything an import stores is written in one transaction; a refused file stores nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from runtime.errors import ServiceError
from runtime.services import Services
from store import documents as docs_store
from store import transfer as transfer_store
from store import versions as versions_store
from store.studio import StudioPersonaRow
from store.types import Pool
from store.users import get_user
from store.versions import NewCollection, NewDocument, NewVersion, StudioVersionRow
from use_cases.portable import values
from use_cases.portable.card import (
    EXTENSION_KEY,
    MAX_NAME_CHARS,
    SPEC_V3,
    V1,
    assemble_prompt,
    build_card,
    check_kept,
)
from use_cases.portable.card import split_card as split_card_data
from use_cases.portable.files import (
    BUNDLE_FORMAT,
    ExportFile,
    ExportFormat,
    ImportedBundle,
    ImportedCard,
    export_file,
    read_import,
)
from use_cases.studio.access import CurrentUser
from use_cases.studio.documents import clean_doc_path
from use_cases.studio.rag import threshold_problem, unknown_collections
from use_cases.studio.versions import managed_persona

IMPORTED = "imported"  # the `changes` of a card's one version
MAX_COLLECTIONS = 50
# the settings our card extension carries; its other keys (style exemplars...) are kept as they are
MANAGED_KEYS = ("kind", "system_prompt", "model", "temperature", "rag", "facts")
# as `POST /collections` takes them (server.studio.schemas.COLLECTION_NAME)
COLLECTION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class ImportResult:
    persona_id: int
    persona_name: str
    versions_imported: int
    format: str  # card_v3, card_v2, card_v1 or bundle
    png: bool
    warnings: list[str] = field(default_factory=list)


def default_rag() -> dict[str, Any]:
    return {"db_collections": [], "query_threshold": None, "query_metric": "cosine"}


# ---------------------------------------------------------------- export


def _extension(row: StudioPersonaRow | StudioVersionRow, system_prompt: str) -> dict[str, Any]:
    attributes = row["attributes"] or {}
    return {
        **(attributes.get("card_extension") or {}),
        "kind": "studio",
        "system_prompt": system_prompt,
        "model": row["model"],
        "temperature": row["temperature"],
        "rag": attributes.get("rag") or default_rag(),
        **({"facts": attributes["facts"]} if attributes.get("facts") else {}),
    }


async def persona_card(pool: Pool, row: StudioPersonaRow) -> dict[str, Any]:
    """The persona's current version as a V2 card."""
    owner = await get_user(pool, row["owner_id"]) if row["owner_id"] else None
    return build_card(
        name=row["name"],
        notes=row["description"],
        system_prompt=row["system_prompt"],
        kept=(row["attributes"] or {}).get("card"),
        ours=_extension(row, row["system_prompt"]),
        creator=owner["username"] if owner else "",
        character_version=str(row["current_version"]),
    )


def _chunks_hash(chunks: list[str]) -> str:
    return hashlib.sha256(json.dumps(chunks, ensure_ascii=False).encode("utf-8")).hexdigest()


def _version_entry(v: StudioVersionRow) -> dict[str, Any]:
    attributes = dict(v["attributes"] or {})
    rag = attributes.pop("rag", None) or default_rag()
    return {
        "version": v["version"],
        "persona_name": v["name"],
        "description": v["description"],
        "system_prompt": v["system_prompt"],
        "model": v["model"],
        "temperature": v["temperature"],
        "rag": rag,
        "attributes": attributes,
        "created_by": v["created_by"],
        "created_at": values.utc_text(v["created_at"]),
        "changes": v["changes"],
    }


async def _manifest(pool: Pool, user: CurrentUser, names: list[str], include_documents: bool) -> list[dict[str, Any]]:
    owners = await docs_store.existing_collections(pool, names)
    usable = [n for n in names if n in owners and user.may_manage(owners[n])]
    documents = await transfer_store.collection_documents(pool, usable)
    entries: list[dict[str, Any]] = []
    for name in names:
        if name not in usable:  # deleted since an old version named it, or another user's
            entries.append({"name": name, "missing": True})
            continue
        collection = await docs_store.get_collection(pool, name)
        docs = []
        for doc in (d for d in documents if d["collection"] == name):
            entry: dict[str, Any] = {
                "doc_path": doc["doc_path"],
                "file_name": doc["file_name"],
                "chunk_count": len(doc["chunks"]),
                "sha256": _chunks_hash(doc["chunks"]),
            }
            if include_documents:
                entry["chunks"] = doc["chunks"]
            docs.append(entry)
        entries.append(
            {"name": name, "description": collection["description"] if collection else "", "documents": docs}
        )
    return entries


async def export_persona(
    pool: Pool, user: CurrentUser, raw_id: str, fmt: ExportFormat, *, include_documents: bool = False
) -> ExportFile:
    """The persona as a card (`card_v2`, `card_v3`, `png`, `png_v3`) or a `bundle` of every version."""
    row = await managed_persona(pool, user, raw_id)
    if fmt != "bundle":
        return export_file(fmt, row["name"], await persona_card(pool, row))
    rows, _ = await versions_store.list_versions(pool, row["id"], None)
    versions = [_version_entry(v) for v in reversed(rows)]
    names = sorted({name for v in versions for name in v["rag"].get("db_collections") or []})
    bundle = {
        "format": BUNDLE_FORMAT,
        "kind": "studio",
        "current_version": row["current_version"],
        "versions": versions,
        "documents_included": include_documents,
        "collections": await _manifest(pool, user, names, include_documents),
    }
    return export_file("bundle", row["name"], bundle)


# ---------------------------------------------------------------- checking imported values


def _rag(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return default_rag()
    if not isinstance(value, dict) or set(value) - {"db_collections", "query_threshold", "query_metric"}:
        raise ServiceError(f"{where} must be an object with db_collections, query_threshold and query_metric")
    names = value.get("db_collections") or []
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names) or len(names) > MAX_COLLECTIONS:
        raise ServiceError(f"{where}.db_collections must be a list of at most {MAX_COLLECTIONS} names")
    metric = value.get("query_metric") or "cosine"
    if metric not in ("cosine", "euclidean"):
        raise ServiceError(f'{where}.query_metric must be "cosine" or "euclidean"')
    threshold = value.get("query_threshold")
    if threshold is not None:
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not math.isfinite(threshold):
            raise ServiceError(f"{where}.query_threshold must be a number")
        threshold = float(threshold)
        if problem := threshold_problem(metric, threshold):
            raise ServiceError(f"{where}: {problem}")
    return {"db_collections": list(names), "query_threshold": threshold, "query_metric": metric}


def _version(raw: Any, index: int) -> NewVersion:
    where = f"versions[{index}]"
    if not isinstance(raw, dict):
        raise ServiceError(f"{where} must be an object")
    number = values.version_number(raw.get("version"), f"{where}.version")
    attributes = raw.get("attributes") or {}
    if not isinstance(attributes, dict) or "rag" in attributes:
        raise ServiceError(f"{where}.attributes must be an object (without rag)")
    if "card" in attributes:
        check_kept(attributes["card"], f"{where}.attributes.card")
    if not isinstance(attributes.get("card_extension", {}), dict):
        raise ServiceError(f"{where}.attributes.card_extension must be an object")
    if "facts" in attributes:
        attributes = {**attributes, "facts": values.facts(attributes["facts"], f"{where}.attributes.facts")}
        if not attributes["facts"]:
            del attributes["facts"]
    changes = raw.get("changes") or []
    if not isinstance(changes, list) or not all(isinstance(c, str) for c in changes):
        raise ServiceError(f"{where}.changes must be a list of strings")
    created_by = raw.get("created_by")
    if created_by is not None and not isinstance(created_by, str):
        raise ServiceError(f"{where}.created_by must be a string")
    return NewVersion(
        version=number,
        name=values.text(raw.get("persona_name"), f"{where}.persona_name", required=True, limit=MAX_NAME_CHARS).strip(),
        description=values.text(raw.get("description"), f"{where}.description"),
        system_prompt=values.text(raw.get("system_prompt"), f"{where}.system_prompt"),
        model=values.model_name(raw.get("model"), f"{where}.model"),
        temperature=values.temperature(raw.get("temperature"), f"{where}.temperature"),
        attributes={**attributes, "rag": _rag(raw.get("rag"), f"{where}.rag")},
        created_by=created_by,
        created_at=values.timestamp(raw.get("created_at"), f"{where}.created_at"),
        changes=list(changes),
    )


def bundle_versions(bundle: dict[str, Any]) -> tuple[list[NewVersion], int]:
    """A studio bundle's versions, checked, and its current version."""
    return values.bundle_versions(bundle, _version, lambda v: v["version"])


# ---------------------------------------------------------------- collections of an import


@dataclass
class _Collections:
    keep: set[str] = field(default_factory=set)
    create: list[NewCollection] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _bundle_documents(entry: dict[str, Any], name: str) -> list[dict[str, Any]] | None:
    """The documents (with chunks) a bundle includes for a collection, checked; None without them."""
    docs = entry.get("documents")
    if not isinstance(docs, list) or entry.get("missing"):
        return None
    checked: list[dict[str, Any]] = []
    for i, doc in enumerate(docs):
        where = f"collections[{name}].documents[{i}]"
        if not isinstance(doc, dict):
            raise ServiceError(f"{where} must be an object")
        chunks = doc.get("chunks")
        if chunks is None:
            return None  # exported without documents
        if not isinstance(chunks, list) or not chunks or not all(isinstance(c, str) and c for c in chunks):
            raise ServiceError(f"{where}.chunks must be a list of texts")
        if doc.get("sha256") is not None and doc.get("sha256") != _chunks_hash(chunks):
            raise ServiceError(f"{where}: the sha256 does not match its chunks")
        try:
            path = clean_doc_path(values.text(doc.get("doc_path"), f"{where}.doc_path", required=True, limit=512))
        except ServiceError as exc:
            raise ServiceError(f"{where}.doc_path: {exc.detail}") from None
        file_name = values.text(doc.get("file_name") or path.rsplit("/", 1)[-1], f"{where}.file_name", limit=255)
        if any(d["doc_path"] == path for d in checked):
            raise ServiceError(f"{where}: the document path {path!r} appears twice")
        checked.append({"doc_path": path, "file_name": file_name, "chunks": chunks})
    return checked


async def _resolve_collections(
    services: Services, user: CurrentUser, names: set[str], manifest: list[Any]
) -> _Collections:
    pool = services.pool
    result = _Collections()
    if not names:
        return result
    entries = {e["name"]: e for e in manifest if isinstance(e, dict) and isinstance(e.get("name"), str)}
    owners = await docs_store.existing_collections(pool, sorted(names))
    for name in sorted(names):
        entry = entries.get(name) or {}
        documents = _bundle_documents(entry, name) if entry else None
        if name in owners:
            if not user.may_manage(owners[name]):
                result.warnings.append(
                    f"Collection '{name}' belongs to another user here: removed from rag.db_collections"
                )
                continue
            result.keep.add(name)
            if documents is not None:
                here = await transfer_store.collection_documents(pool, [name])
                theirs = {d["doc_path"]: _chunks_hash(d["chunks"]) for d in documents}
                if {d["doc_path"]: _chunks_hash(d["chunks"]) for d in here} != theirs:
                    result.warnings.append(
                        f"Collection '{name}' exists here with other documents than the bundle's; the existing one is used"
                    )
            continue
        if documents is None:
            hint = (
                " and the bundle does not include its documents (export with include_documents=true)" if entry else ""
            )
            result.warnings.append(f"Collection '{name}' does not exist here{hint}: removed from rag.db_collections")
            continue
        if not COLLECTION_NAME.match(name):
            raise ServiceError(f"Invalid collection name {name[:70]!r} in the bundle")
        description = values.text(entry.get("description"), f"collections[{name}].description", limit=2000)
        result.create.append(NewCollection(name=name, description=description, documents=[]))
        embeddings = services.require_embeddings()
        for doc in documents:
            vectors = await asyncio.to_thread(embeddings.embed_documents, doc["chunks"])
            result.create[-1]["documents"].append(
                NewDocument(
                    file_name=doc["file_name"],
                    doc_path=doc["doc_path"],
                    chunks=doc["chunks"],
                    embeddings=[list(v) for v in vectors],
                )
            )
        result.keep.add(name)
    return result


def _without(versions: list[NewVersion], keep: set[str]) -> list[NewVersion]:
    """The versions with collections that are not kept taken out of their rag settings."""
    for v in versions:
        rag = v["attributes"]["rag"]
        rag["db_collections"] = [n for n in rag["db_collections"] if n in keep]
    return versions


# ---------------------------------------------------------------- import


def _card_version(imported: ImportedCard, user: CurrentUser) -> NewVersion:
    card = imported.card
    ours, kept = split_card_data(card.data)
    if ours is None:
        prompt, model, temperature, rag = assemble_prompt(card.data, card.name), None, None, default_rag()
        facts: dict[str, Any] = {}
        extras: dict[str, Any] = {}
    else:
        where = f"data.extensions.{EXTENSION_KEY}"
        prompt = values.text(ours.get("system_prompt"), f"{where}.system_prompt")
        model = values.model_name(ours.get("model"), f"{where}.model")
        temperature = values.temperature(ours.get("temperature"), f"{where}.temperature")
        rag = _rag(ours.get("rag"), f"{where}.rag")
        facts = values.facts(ours.get("facts"), f"{where}.facts")
        extras = {k: v for k, v in ours.items() if k not in MANAGED_KEYS}
    attributes: dict[str, Any] = {"rag": rag, "card": kept}
    if facts:
        attributes["facts"] = facts
    if extras:
        attributes["card_extension"] = extras
    return NewVersion(
        version=1,
        name=card.name,
        description=values.text(card.data["creator_notes"], "data.creator_notes"),
        system_prompt=prompt,
        model=model,
        temperature=temperature,
        attributes=attributes,
        created_by=user.id,
        created_at=None,
        changes=[IMPORTED],
    )


async def import_persona(services: Services, user: CurrentUser, raw: bytes) -> ImportResult:
    """A new persona owned by `user` from a card (JSON or PNG) or a studio bundle."""
    imported = await asyncio.to_thread(read_import, raw)  # up to 16 MiB of JSON or PNG: off the event loop
    if isinstance(imported, ImportedBundle):
        if imported.kind != "studio":
            raise ServiceError(
                f"This is a {imported.kind} bundle; the studio imports studio bundles and cards"
                + (
                    " (a ghostwriter bundle goes to POST /ghostwriter/personas/{account_id}/import)"
                    if imported.kind == "ghostwriter"
                    else ""
                )
            )
        versions, current = bundle_versions(imported.bundle)
        manifest = imported.bundle.get("collections") or []
        if not isinstance(manifest, list):
            raise ServiceError("The bundle's collections must be a list")
        fmt, png = "bundle", False
    else:
        versions, current, manifest = [_card_version(imported, user)], 1, []
        spec = imported.card.spec
        fmt, png = ("card_v1" if spec == V1 else "card_v3" if spec == SPEC_V3 else "card_v2"), imported.png
    names = {n for v in versions for n in v["attributes"]["rag"]["db_collections"]}
    resolved = await _resolve_collections(services, user, names, manifest)
    versions = _without(versions, resolved.keep)
    try:
        persona_id = await versions_store.insert_studio_persona(
            services.pool,
            owner_id=user.id,
            versions=versions,
            current_version=current,
            collections=sorted(resolved.keep),
            new_collections=resolved.create,
        )
    except docs_store.CollectionsMissing as exc:  # deleted while the import ran
        raise unknown_collections(exc.names) from None
    except versions_store.CollectionTaken as exc:
        raise ServiceError(f"Collection '{exc.name}' was created while the import ran; import again") from None
    name = next(v["name"] for v in versions if v["version"] == current)
    warnings = [*imported.card.warnings] if isinstance(imported, ImportedCard) else []
    return ImportResult(persona_id, name, len(versions), fmt, png, warnings + resolved.warnings)
