"""REST adapter for the studio API (`docs/api/studio.md`), mounted at /studio.

Contract routes: GET /personas/owned, POST /personas/build, PUT /personas/build/{id},
GET /personas/{id}/message_history, POST /personas/{id}/chat. Added routes:
POST /auth/token, POST /users, document collections (create, list, delete, upload,
list documents, delete a document), a persona's versions and rollback, export and import.
Objects a caller may not see answer 404.

Each route parses a typed request, calls one use case in `use_cases.studio` and shapes the
contract's response; the services' errors become HTTP answers in `server.errors`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Path, Query, Request, Response, UploadFile

from server.errors import error_responses
from server.files import EXPORT_RESPONSES, file_response, import_request_body, read_upload
from server.studio.auth import LOGIN_OPERATION_ID, Admin, AnyUser, Builder, make_token, studio_lifespan
from server.studio.schemas import (
    ChatReply,
    ChatRequest,
    CollectionCreate,
    CollectionCreated,
    CollectionDeleted,
    Collections,
    CollectionSummary,
    DocumentDeleted,
    Documents,
    DocumentStored,
    DocumentSummary,
    History,
    HistoryMessage,
    LorebookHit,
    Message,
    MessageHistory,
    PersonaCreated,
    PersonaImported,
    PersonaModel,
    PersonaUpdate,
    RagHit,
    RolledBack,
    StudioPersona,
    Token,
    UserCreate,
    UserCreated,
    VersionOut,
    Versions,
    utc_text,
)
from server.validation import refuse_bad_text
from store.types import Pool
from use_cases.portable.files import ExportFormat
from use_cases.studio import chat as chat_service
from use_cases.studio import collections, documents, histories, personas, transfer, users, versions

# The lifespan runs in the app that mounts this router: it points the OpenAPI token URL at the
# mount's own /auth/token and prepares the JWT signing secret (see server/studio/auth.py).
router = APIRouter(lifespan=studio_lifespan)

# Every route but the login needs a bearer token (401) and a usable signing secret (503).
SIGNED_IN = (401, 503)


def _pool(request: Request) -> Pool:
    return request.app.state.services.pool


# ---------------------------------------------------------------- auth and users


@router.post(
    "/auth/token",
    operation_id=LOGIN_OPERATION_ID,
    response_model=Token,
    responses=error_responses(401, 422, 503),
    summary="Exchange username and password for a bearer token (OAuth2 password flow)",
)
async def login(
    request: Request,
    username: Annotated[str, Form(min_length=1)],
    password: Annotated[str, Form(min_length=1)],
) -> Token:
    """The OAuth2 password flow's form (`grant_type`, `scope` and the client fields are ignored)."""
    refuse_bad_text(username=username, password=password)
    user = await users.log_in(_pool(request), username, password)
    return Token(
        access_token=make_token(request, user["id"], user["role"]),
        user_id=user["id"],
        role=user["role"],
        expires_in=request.app.state.services.settings.jwt_ttl_minutes * 60,
    )


@router.post(
    "/users",
    status_code=201,
    response_model=UserCreated,
    responses=error_responses(*SIGNED_IN, 403, 409, 422),
    summary="Create a user (admin only)",
)
async def add_user(request: Request, body: UserCreate, admin: Admin) -> UserCreated:
    row = await users.add_user(_pool(request), username=body.username, password=body.password, role=body.role)
    return UserCreated(id=row["id"], username=row["username"], role=row["role"])


# ---------------------------------------------------------------- personas (contract)


@router.get(
    "/personas/owned",
    response_model=dict[str, str],
    responses=error_responses(*SIGNED_IN),
    summary="Personas created by the current user: {persona_id: persona_name}",
)
async def owned_personas(request: Request, user: AnyUser) -> dict[str, str]:
    return {str(row["id"]): row["name"] for row in await personas.owned_personas(_pool(request), user)}


@router.post(
    "/personas/build",
    response_model=PersonaCreated,
    responses=error_responses(400, *SIGNED_IN, 403, 404, 422),
    summary="Create a persona (builder or admin)",
)
async def build_persona(request: Request, body: PersonaModel, user: Builder) -> PersonaCreated:
    new_id = await personas.create_persona(_pool(request), user, body.new_persona())
    return PersonaCreated(
        message="Persona created successfully", persona_id=str(new_id), persona_name=body.persona_name
    )


@router.put(
    "/personas/build/{persona_id}",
    response_model=Message,
    responses=error_responses(400, *SIGNED_IN, 403, 404, 422),
    summary="Update a persona (its creator, or an admin)",
)
async def update_persona(request: Request, persona_id: str, body: PersonaUpdate, user: Builder) -> Message:
    await personas.update_persona(_pool(request), user, persona_id, body.changes())
    return Message(message="Persona updated successfully")


@router.get(
    "/personas/{persona_id}/message_history",
    response_model=MessageHistory,
    responses=error_responses(*SIGNED_IN, 404),
    summary="The current user's message histories with a persona",
)
async def message_history(request: Request, persona_id: str, user: AnyUser) -> MessageHistory:
    found = await histories.list_histories(_pool(request), user, persona_id)
    return MessageHistory(
        persona_id=str(found.persona_id),
        messages=[
            History(
                id=h["id"],
                title=h["title"],
                description=h["description"],
                messages=[HistoryMessage(**m) for m in h["messages"]],
                created_at=utc_text(h["created_at"]),
            )
            for h in found.histories
        ],
    )


@router.post(
    "/personas/{persona_id}/chat",
    response_model=ChatReply,
    responses=error_responses(400, *SIGNED_IN, 404, 422, 502),
    summary="Send a message to a persona in one of your histories",
)
async def chat(request: Request, persona_id: str, body: ChatRequest, user: AnyUser) -> ChatReply:
    services = request.app.state.services
    turn = await chat_service.chat_turn(
        services,
        request.app.state.graphs["persona_chat"],
        user,
        persona_id,
        body.content,
        body.message_history_id,
    )
    return ChatReply(
        persona_id=str(turn.persona_id),
        message_history_id=turn.history_id,
        response=turn.reply,
        rag_hit=RagHit(**turn.rag_hit),
        lorebook=[LorebookHit(**entry) for entry in turn.lorebook],
    )


# ---------------------------------------------------------------- versions


@router.get(
    "/personas/{persona_id}/versions",
    response_model=Versions,
    responses=error_responses(*SIGNED_IN, 403, 404, 422),
    summary="A persona's versions, newest first (its creator, or an admin)",
)
async def persona_versions(
    request: Request,
    persona_id: str,
    user: Builder,
    limit: Annotated[int, Query(ge=1, le=1000, description="Most versions to return.")] = 10,
) -> Versions:
    found = await versions.list_versions(_pool(request), user, persona_id, limit)
    return Versions(
        persona_id=str(found.persona_id),
        versions=[VersionOut.of(v) for v in found.versions],
        total_versions=found.total,
    )


@router.post(
    "/personas/{persona_id}/rollback/{version}",
    response_model=RolledBack,
    responses=error_responses(400, *SIGNED_IN, 403, 404, 422),
    summary="Make an earlier version current again (its creator, or an admin)",
)
async def rollback_persona(
    request: Request,
    persona_id: str,
    version: Annotated[int, Path(ge=-(2**31), le=2**31 - 1, description="The version to make current.")],
    user: Builder,
) -> RolledBack:
    row = await versions.rollback(_pool(request), user, persona_id, version)
    return RolledBack(message=f"Rolled back to version {version}", persona=StudioPersona.of(row))


# ---------------------------------------------------------------- export and import


@router.get(
    "/personas/{persona_id}/export",
    response_class=Response,
    responses={**EXPORT_RESPONSES, **error_responses(*SIGNED_IN, 403, 404, 422)},
    summary="Export a persona: Character Card V2 or V3 JSON, PNG card, or a bundle of every version",
)
async def export_persona(
    request: Request,
    persona_id: str,
    user: Builder,
    format: Annotated[
        ExportFormat,
        Query(description="card_v2, card_v3, png (a V2 card), png_v3 (V3 and V2 cards in one PNG) or bundle"),
    ] = "card_v2",
    include_documents: Annotated[
        bool, Query(description="bundle: include the documents of the persona's collections")
    ] = False,
) -> Response:
    file = await transfer.export_persona(_pool(request), user, persona_id, format, include_documents=include_documents)
    return file_response(file)


@router.post(
    "/personas/import",
    status_code=201,
    response_model=PersonaImported,
    responses=error_responses(400, *SIGNED_IN, 403, 404, 409),
    openapi_extra={
        "requestBody": import_request_body(
            "A Character Card V3, V2 or V1 (JSON), a PNG card, or a studio bundle; as the body or as the "
            "multipart field `file`"
        )
    },
    summary="Import a card or a bundle as a new persona of yours (builder or admin)",
)
async def import_persona(request: Request, user: Builder) -> PersonaImported:
    raw = await read_upload(request)
    result = await transfer.import_persona(request.app.state.services, user, raw)
    return PersonaImported(
        persona_id=str(result.persona_id),
        persona_name=result.persona_name,
        versions_imported=result.versions_imported,
        format=result.format,
        png=result.png,
        warnings=result.warnings,
    )


# ---------------------------------------------------------------- document collections


@router.post(
    "/collections",
    status_code=201,
    response_model=CollectionCreated,
    responses=error_responses(*SIGNED_IN, 403, 409, 422),
    summary="Create a document collection (builder or admin)",
)
async def add_collection(request: Request, body: CollectionCreate, user: Builder) -> CollectionCreated:
    await collections.create_collection(_pool(request), user, name=body.name, description=body.description)
    return CollectionCreated(name=body.name, description=body.description, owner_id=user.id)


@router.get(
    "/collections",
    response_model=Collections,
    responses=error_responses(*SIGNED_IN, 403),
    summary="Your collections (an admin sees all)",
)
async def get_collections(request: Request, user: Builder) -> Collections:
    rows = await collections.list_collections(_pool(request), user)
    return Collections(
        collections=[
            CollectionSummary(
                name=r["name"],
                description=r["description"],
                owner_id=r["owner_id"],
                documents=r["documents"],
                chunks=r["chunks"],
            )
            for r in rows
        ]
    )


@router.delete(
    "/collections/{name}",
    response_model=CollectionDeleted,
    responses=error_responses(*SIGNED_IN, 403, 404, 409),
    summary="Delete a collection and its documents (refused while a persona uses it)",
)
async def remove_collection(request: Request, name: str, user: Builder) -> CollectionDeleted:
    counts = await collections.delete_collection(_pool(request), user, name)
    return CollectionDeleted(message="Collection deleted successfully", collection=name, **counts)


@router.post(
    "/collections/{name}/documents",
    status_code=201,
    response_model=DocumentStored,
    responses=error_responses(400, *SIGNED_IN, 403, 404, 413, 422),
    summary="Upload a PDF, Markdown, text, HTML or CSV file; re-uploading a path replaces it",
)
async def upload_document(
    request: Request,
    name: str,
    user: Builder,
    file: Annotated[UploadFile, File(description="the document")],
    path: Annotated[str | None, Form(description="doc_path; defaults to the file name")] = None,
) -> DocumentStored:
    refuse_bad_text(file=file.filename, path=path)
    stored = await documents.upload_document(request.app.state.services, user, name, file, path)
    return DocumentStored(
        collection=stored.collection, file_name=stored.file_name, doc_path=stored.doc_path, chunks=stored.chunks
    )


@router.get(
    "/collections/{name}/documents",
    response_model=Documents,
    responses=error_responses(*SIGNED_IN, 403, 404),
    summary="Documents in a collection",
)
async def get_documents(request: Request, name: str, user: Builder) -> Documents:
    rows = await documents.list_documents(_pool(request), user, name)
    return Documents(
        collection=name,
        documents=[
            DocumentSummary(
                doc_path=r["doc_path"],
                file_name=r["file_name"],
                chunks=r["chunks"],
                uploaded_at=utc_text(r["uploaded_at"]),
            )
            for r in rows
        ],
    )


@router.delete(
    "/collections/{name}/documents/{doc_path:path}",
    response_model=DocumentDeleted,
    responses=error_responses(400, *SIGNED_IN, 403, 404),
    summary="Delete a document and its chunks",
)
async def remove_document(request: Request, name: str, doc_path: str, user: Builder) -> DocumentDeleted:
    deleted = await documents.delete_document(_pool(request), user, name, doc_path)
    return DocumentDeleted(message="Document deleted successfully", collection=name, doc_path=doc_path, chunks=deleted)
