"""REST adapter for the studio contract (`contracts/studio-personas.md`), mounted at /studio.

Contract routes: GET /personas/owned, POST /personas/build, PUT /personas/build/{id},
GET /personas/{id}/message_history, POST /personas/{id}/chat. Added routes:
POST /auth/token, POST /users, and document collections (create, list, delete, upload,
list documents, delete a document). Objects a caller may not see answer 404.
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from pathlib import PurePosixPath
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, HTTPException, Request, UploadFile
from fastapi.security import OAuth2PasswordRequestForm
from langchain_core.messages import HumanMessage, RemoveMessage

from graphs.persona_chat.context import ChatContext
from graphs.persona_chat.retrieval import rag_miss
from graphs.persona_chat.nodes import CHAT_DURABILITY, PersonaNotFound
from runtime.errors import ConfigError
from server.security import (Role, dummy_verify_password, hash_password, password_needs_rehash,
                             verify_password)
from server.studio.auth import (LOGIN_OPERATION_ID, Admin, AnyUser, Builder, CurrentUser, make_token,
                                studio_lifespan)
from server.studio.schemas import (ChatRequest, CollectionCreate, PersonaModel, PersonaUpdate, UserCreate,
                                   threshold_problem)
from store import documents as docs_store
from store import studio as studio_store
from store.conversations import append_messages, create_conversation, get_conversation
from store.personas import create_persona
from store.users import UsernameTaken, create_user, get_user, get_user_by_username, update_password_hash
from tools.documents import DocumentError, chunk_text, extract_text_async

log = logging.getLogger(__name__)

# The lifespan runs in the app that mounts this router: it points the OpenAPI token URL at the
# mount's own /auth/token and prepares the JWT signing secret (see server/studio/auth.py).
router = APIRouter(lifespan=studio_lifespan)

PERSONA_NOT_FOUND = "Persona not found"
USER_NOT_FOUND = "Invalid user_id: User does not exist"
HISTORY_NOT_FOUND = "Message history not found"
COLLECTION_NOT_FOUND = "Collection not found"
PROVIDER_FAILED = "The model provider failed to answer; try again later."
MAX_MESSAGE_CHARS = 20_000


def _pool(request: Request):
    return request.app.state.services.pool


def _persona_id(raw: str) -> int:
    if not re.fullmatch(r"[0-9]{1,18}", raw):
        raise HTTPException(404, PERSONA_NOT_FOUND)
    return int(raw)


async def _studio_persona(request: Request, raw_id: str) -> dict[str, Any]:
    row = await studio_store.get_studio_persona(_pool(request), _persona_id(raw_id))
    if row is None:
        raise HTTPException(404, PERSONA_NOT_FOUND)
    return row


async def _check_collections(request: Request, user: CurrentUser, names: list[str]) -> None:
    """Every named collection must exist and (for a builder) be theirs; one message for both."""
    found = await docs_store.existing_collections(_pool(request), names)
    bad = [n for n in names if n not in found or (user.role != Role.admin and found[n] != user.id)]
    if bad:
        raise HTTPException(400, f"Unknown collection(s) in rag.db_collections: {', '.join(sorted(set(bad)))}")


async def _check_creator(request: Request, user: CurrentUser, creator_id: str) -> None:
    if await get_user(_pool(request), creator_id) is None:
        raise HTTPException(404, USER_NOT_FOUND)
    if user.role != Role.admin and creator_id != user.id:
        raise HTTPException(400, "Only an admin can set creator_id to another user")


# ---------------------------------------------------------------- auth and users


@router.post("/auth/token", operation_id=LOGIN_OPERATION_ID,
             summary="Exchange username and password for a bearer token (OAuth2 password flow)")
async def login(request: Request, form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> dict[str, Any]:
    pool = _pool(request)
    user = await get_user_by_username(pool, form.username)
    if user is None:
        await asyncio.to_thread(dummy_verify_password, form.password)
        raise HTTPException(401, "Incorrect username or password", headers={"WWW-Authenticate": "Bearer"})
    if not await asyncio.to_thread(verify_password, form.password, user["password_hash"]):
        raise HTTPException(401, "Incorrect username or password", headers={"WWW-Authenticate": "Bearer"})
    if password_needs_rehash(user["password_hash"]):
        await update_password_hash(pool, user["id"], await asyncio.to_thread(hash_password, form.password))
    token = make_token(request, user["id"], user["role"])
    return {"access_token": token, "token_type": "bearer", "user_id": user["id"], "role": user["role"],
            "expires_in": request.app.state.services.settings.jwt_ttl_minutes * 60}


@router.post("/users", status_code=201, summary="Create a user (admin only)")
async def add_user(request: Request, body: UserCreate, admin: Admin) -> dict[str, Any]:
    password_hash = await asyncio.to_thread(hash_password, body.password)
    try:
        row = await create_user(_pool(request), username=body.username, password_hash=password_hash, role=body.role)
    except UsernameTaken:
        raise HTTPException(409, "Username already exists") from None
    return {"id": row["id"], "username": row["username"], "role": row["role"]}


# ---------------------------------------------------------------- personas (contract)


@router.get("/personas/owned", summary="Personas created by the current user: {persona_id: persona_name}")
async def owned_personas(request: Request, user: AnyUser) -> dict[str, str]:
    rows = await studio_store.list_owned(_pool(request), user.id)
    return {str(row["id"]): row["name"] for row in rows}


@router.post("/personas/build", summary="Create a persona (builder or admin)")
async def build_persona(request: Request, body: PersonaModel, user: Builder) -> dict[str, Any]:
    await _check_creator(request, user, body.creator_id)
    await _check_collections(request, user, body.rag.db_collections)
    try:
        new_id = await create_persona(
            _pool(request), kind=studio_store.KIND, name=body.persona_name, description=body.description,
            system_prompt=body.system_prompt, owner_id=body.creator_id, model=body.model,
            temperature=body.temperature, attributes={"rag": body.rag.model_dump()},
            collections=body.rag.db_collections)
    except docs_store.CollectionsMissing as exc:  # deleted between the check and the write
        raise HTTPException(400, f"Unknown collection(s) in rag.db_collections: {', '.join(exc.names)}") from None
    return {"message": "Persona created successfully", "persona_id": str(new_id), "persona_name": body.persona_name}


@router.put("/personas/build/{persona_id}", summary="Update a persona (its creator, or an admin)")
async def update_persona(request: Request, persona_id: str, body: PersonaUpdate, user: Builder) -> dict[str, str]:
    row = await _studio_persona(request, persona_id)
    if user.role != Role.admin and row["owner_id"] != user.id:
        raise HTTPException(404, PERSONA_NOT_FOUND)
    given = body.model_fields_set
    fields: dict[str, Any] = {}
    if "creator_id" in given and body.creator_id != row["owner_id"]:
        await _check_creator(request, user, body.creator_id)
        fields["owner_id"] = body.creator_id
    for src, dst in (("persona_name", "name"), ("description", "description"), ("model", "model"),
                     ("temperature", "temperature")):
        if src in given:
            fields[dst] = getattr(body, src)
    if "rag" in given and body.rag is not None:
        await _check_collections(request, user, body.rag.db_collections)
        old_rag = (row["attributes"] or {}).get("rag") or {}
        new_rag = {**old_rag, **body.rag.model_dump(exclude_unset=True)}
        # the range of a threshold depends on the metric: check the merged settings, so a partial
        # update is judged against the stored metric (or the stored threshold), not a default
        problem = threshold_problem(new_rag.get("query_metric") or "cosine", new_rag.get("query_threshold"))
        if problem:
            raise HTTPException(422, f"Invalid rag settings after the update: {problem}")
        fields["attributes"] = {**(row["attributes"] or {}), "rag": new_rag}
    prompt = body.system_prompt if "system_prompt" in given else None
    if fields or prompt is not None:
        rag = (fields.get("attributes") or {}).get("rag") or {}
        try:
            await studio_store.update_studio_persona(_pool(request), row["id"], fields=fields, system_prompt=prompt,
                                                     collections=list(rag.get("db_collections") or []))
        except docs_store.CollectionsMissing as exc:  # deleted between the check and the write
            raise HTTPException(400, f"Unknown collection(s) in rag.db_collections: {', '.join(exc.names)}") from None
    return {"message": "Persona updated successfully"}


@router.get("/personas/{persona_id}/message_history",
            summary="The current user's message histories with a persona")
async def message_history(request: Request, persona_id: str, user: AnyUser) -> dict[str, Any]:
    row = await _studio_persona(request, persona_id)
    histories = await studio_store.list_histories(_pool(request), row["id"], user.id)
    return {"persona_id": str(row["id"]), "messages": [{
        "id": h["id"], "title": h["title"], "description": h["description"], "messages": h["messages"],
        "created_at": h["created_at"].isoformat().replace("+00:00", "Z"),
    } for h in histories]}


def history_title(first_message: str) -> tuple[str, str]:
    """(title, description) of a new history, from its first message."""
    text = " ".join(first_message.split())
    words = text.split(" ")
    title = " ".join(words[:8])
    if len(title) > 60:
        title = title[:57].rstrip() + "..."
    elif len(words) > 8:
        title += "..."
    description = f"A conversation that began with: {text[:160]}{'...' if len(text) > 160 else ''}"
    return title, description


async def _forget_failed_turn(graph: Any, config: dict[str, Any], message_id: str, *, new_history: bool) -> None:
    """Leave no trace of a failed turn in the thread's memory: a new history's thread (its id
    was never returned) is deleted; in an existing one the turn's user message is removed, so
    the next turn does not answer a question the user never got a reply to."""
    thread_id = config["configurable"]["thread_id"]
    try:
        if new_history:
            await graph.checkpointer.adelete_thread(thread_id)
            return
        state = await graph.aget_state(config)
        if any(getattr(m, "id", None) == message_id for m in state.values.get("messages", [])):
            await graph.aupdate_state(config, {"messages": [RemoveMessage(id=message_id)]}, as_node="finalize")
    except Exception:  # the reply to the client is the turn's failure, not this one
        log.exception("could not remove the failed turn from chat thread %s", thread_id)


@router.post("/personas/{persona_id}/chat", summary="Send a message to a persona in one of your histories")
async def chat(request: Request, persona_id: str, body: ChatRequest, user: AnyUser) -> dict[str, Any]:
    row = await _studio_persona(request, persona_id)
    content = (body.content or "").strip()
    if not content:
        raise HTTPException(404, "Message content is required")
    if len(content) > MAX_MESSAGE_CHARS:
        raise HTTPException(400, f"Message content is too long (at most {MAX_MESSAGE_CHARS} characters)")
    pool = _pool(request)
    history_id = body.message_history_id
    if history_id:
        history = await get_conversation(pool, history_id)
        if history is None or history["owner_id"] != user.id or history["persona_id"] != row["id"]:
            raise HTTPException(404, HISTORY_NOT_FOUND)
    else:
        history_id = uuid.uuid4().hex
    graph = request.app.state.graphs["persona_chat"]
    question = HumanMessage(content, id=uuid.uuid4().hex)
    config = {"configurable": {"thread_id": history_id}}
    try:
        result = await graph.ainvoke(
            {"messages": [question], "persona_id": row["id"], "persona_version": None}, config=config,
            context=ChatContext(model=row["model"] or request.app.state.services.settings.chat_model),
            durability=CHAT_DURABILITY)
    except Exception as exc:
        # The history rows are written below, only after a reply; the thread's checkpoint is not
        # (it is saved when a turn ends, failed or not), so the failed turn is taken out of it.
        await _forget_failed_turn(graph, config, question.id, new_history=not body.message_history_id)
        if isinstance(exc, ConfigError):
            raise HTTPException(503, str(exc)) from None
        if isinstance(exc, PersonaNotFound):  # deleted while the turn ran
            raise HTTPException(404, PERSONA_NOT_FOUND) from None
        # the provider (or the way to it) failed: a 502 without internals
        log.exception("studio chat failed for persona %s", row["id"])
        raise HTTPException(502, PROVIDER_FAILED) from None
    rag_hit = result.get("rag_hit") or rag_miss()
    reply = result.get("reply", "")
    if not body.message_history_id:
        title, description = history_title(content)
        await create_conversation(pool, conversation_id=history_id, persona_id=row["id"], owner_id=user.id,
                                  title=title, description=description)
    await append_messages(pool, history_id, [("user", content, {}),
                                             ("assistant", reply, {"rag_hit": rag_hit})])
    return {"persona_id": str(row["id"]), "message_history_id": history_id, "response": reply,
            "rag_hit": rag_hit}


# ---------------------------------------------------------------- document collections


async def _collection(request: Request, user: CurrentUser, name: str) -> dict[str, Any]:
    row = await docs_store.get_collection(_pool(request), name)
    if row is None or (user.role != Role.admin and row["owner_id"] != user.id):
        raise HTTPException(404, COLLECTION_NOT_FOUND)
    return row


def clean_doc_path(raw: str) -> str:
    """A relative POSIX path without '..', control characters or backslashes."""
    path = raw.strip().strip("/")
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if (not parts or len(path) > 512 or ".." in parts or "\\" in path
            or any(ord(ch) < 32 or ord(ch) == 127 for ch in path)):
        raise HTTPException(400, "Invalid document path: use a relative path like 'guides/setup.md'")
    return "/".join(parts)


@router.post("/collections", status_code=201, summary="Create a document collection (builder or admin)")
async def add_collection(request: Request, body: CollectionCreate, user: Builder) -> dict[str, Any]:
    if not await docs_store.create_collection(_pool(request), name=body.name, owner_id=user.id,
                                              description=body.description):
        raise HTTPException(409, "Collection already exists")
    return {"name": body.name, "description": body.description, "owner_id": user.id}


@router.get("/collections", summary="Your collections (an admin sees all)")
async def get_collections(request: Request, user: Builder) -> dict[str, Any]:
    rows = await docs_store.list_collections(_pool(request), None if user.role == Role.admin else user.id)
    return {"collections": [{"name": r["name"], "description": r["description"], "owner_id": r["owner_id"],
                             "documents": r["documents"], "chunks": r["chunks"]} for r in rows]}


@router.delete("/collections/{name}", summary="Delete a collection and its documents (refused while a persona uses it)")
async def remove_collection(request: Request, name: str, user: Builder) -> dict[str, Any]:
    await _collection(request, user, name)
    try:
        counts = await docs_store.delete_collection(_pool(request), name)
    except docs_store.CollectionInUse as exc:
        raise HTTPException(409, _in_use_detail(name, exc.personas, user)) from None
    if counts is None:  # deleted concurrently
        raise HTTPException(404, COLLECTION_NOT_FOUND)
    return {"message": "Collection deleted successfully", "collection": name, **counts}


def _in_use_detail(name: str, personas: list[dict[str, Any]], user: CurrentUser) -> str:
    """Which personas still name the collection; ids of personas the caller cannot see are only counted."""
    visible = [str(p["id"]) for p in personas if user.role == Role.admin or p["owner_id"] == user.id]
    hidden = len(personas) - len(visible)
    parts = [f"{'persona' if len(visible) == 1 else 'personas'} {', '.join(visible)}"] if visible else []
    if hidden:
        parts.append(f"{hidden} {'persona' if hidden == 1 else 'personas'} of other users")
    return (f"Collection '{name}' is still used by {' and '.join(parts)}: remove it from their "
            "rag.db_collections first")


@router.post("/collections/{name}/documents", status_code=201,
             summary="Upload a PDF, Markdown, text, HTML or CSV file; re-uploading a path replaces it")
async def upload_document(request: Request, name: str, user: Builder,
                          file: Annotated[UploadFile, File(description="the document")],
                          path: Annotated[str | None, Form(description="doc_path; defaults to the file name")] = None
                          ) -> dict[str, Any]:
    await _collection(request, user, name)
    settings = request.app.state.services.settings
    limit = settings.studio_max_upload_bytes
    file_name = PurePosixPath((file.filename or "").replace("\\", "/")).name
    if not file_name:
        raise HTTPException(400, "The upload needs a file name")
    doc_path = clean_doc_path(path or file_name)
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise HTTPException(413, f"The file is larger than the limit of {limit} bytes")
    try:
        text = await extract_text_async(file_name, file.content_type, data, max_bytes=limit,
                                        max_pages=settings.studio_max_pdf_pages)
    except DocumentError as exc:
        raise HTTPException(exc.status, exc.detail) from None
    chunks = chunk_text(text, chunk_size=settings.studio_chunk_size, chunk_overlap=settings.studio_chunk_overlap)
    if not chunks:
        raise HTTPException(400, "The document contains no extractable text")
    embeddings = request.app.state.services.require_embeddings()
    vectors = await asyncio.to_thread(embeddings.embed_documents, chunks)
    try:
        count = await docs_store.replace_document(_pool(request), collection=name, file_name=file_name,
                                                  doc_path=doc_path, chunks=chunks, embeddings=vectors)
    except docs_store.CollectionNotFound:  # deleted while the file was being embedded
        raise HTTPException(404, COLLECTION_NOT_FOUND) from None
    return {"collection": name, "file_name": file_name, "doc_path": doc_path, "chunks": count}


@router.get("/collections/{name}/documents", summary="Documents in a collection")
async def get_documents(request: Request, name: str, user: Builder) -> dict[str, Any]:
    await _collection(request, user, name)
    rows = await docs_store.list_documents(_pool(request), name)
    return {"collection": name, "documents": [{
        "doc_path": r["doc_path"], "file_name": r["file_name"], "chunks": r["chunks"],
        "uploaded_at": r["uploaded_at"].isoformat().replace("+00:00", "Z")} for r in rows]}


@router.delete("/collections/{name}/documents/{doc_path:path}", summary="Delete a document and its chunks")
async def remove_document(request: Request, name: str, doc_path: str, user: Builder) -> dict[str, Any]:
    await _collection(request, user, name)
    deleted = await docs_store.delete_document(_pool(request), name, clean_doc_path(doc_path))
    if not deleted:
        raise HTTPException(404, "Document not found")
    return {"message": "Document deleted successfully", "collection": name, "doc_path": doc_path,
            "chunks": deleted}
