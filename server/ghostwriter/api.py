"""REST adapter for the ghostwriter contract (`docs/api/ghostwriter.md`), plus account/post import
and persona export/import.

Every route parses a typed request, calls one `use_cases.ghostwriter` function and shapes the
contract's response. Every route needs `X-API-Key` (`auth`); malformed requests are 400
{"detail": ...} (`route.GhostwriterRoute`), service errors become their status in
`server.errors`. Literal routes come before `/personas/{account_id}`.
"""

from __future__ import annotations

import csv
import io
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError

from runtime.errors import ServiceError
from runtime.services import Services
from server.errors import error_responses
from server.files import EXPORT_RESPONSES, file_response, import_request_body, read_upload
from server.ghostwriter import schemas
from server.ghostwriter.auth import ApiKey, api_key
from server.ghostwriter.route import NOT_OBJECT, GhostwriterRoute, read_json
from server.ghostwriter.schemas import (
    AccountBody,
    AccountSaved,
    BatchAccepted,
    BatchBody,
    BatchJob,
    BatchResult,
    ChatBody,
    ChatResponse,
    CreateBody,
    GenerateBody,
    GeneratedPostOut,
    PersonaAnalytics,
    PersonaCreated,
    PersonaHistory,
    PersonaList,
    PersonaOut,
    PersonaRefined,
    PersonaRestored,
    PostsImported,
    RefineBody,
    RolledBack,
)
from server.ghostwriter.sse import streaming_response
from use_cases.ghostwriter import accounts, batch, personas, posts, transfer
from use_cases.ghostwriter.accounts import Post
from use_cases.ghostwriter.chat import start_chat
from use_cases.ghostwriter.errors import describe
from use_cases.portable.files import ExportFormat

router = APIRouter(route_class=GhostwriterRoute, dependencies=[Depends(api_key)], responses=error_responses(403))

AccountId = Annotated[str, Path(description="The X account id.")]
MAX_POSTS = 10_000


def _services(request: Request) -> Services:
    return request.app.state.services


# ---------------------------------------------------------------- accounts and posts (not in the contract)


@router.post("/accounts", response_model=AccountSaved, responses=error_responses(400))
async def create_account(body: AccountBody, request: Request) -> AccountSaved:
    """Add a tracked account, or replace its profile."""
    row = await accounts.save_account(
        _services(request),
        account_id=body.id,
        handle=body.handle,
        display_name=body.display_name,
        avatar_url=body.avatar_url,
        active=body.active,
    )
    return AccountSaved.of(row)


def _csv_posts(raw: bytes) -> list[dict[str, Any]]:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ServiceError("CSV must be UTF-8") from None
    reader = csv.DictReader(io.StringIO(text))
    try:
        if not reader.fieldnames or not {"id", "text", "created_at"} <= set(reader.fieldnames):
            raise ServiceError("CSV needs a header with at least id, text and created_at")
        return [{k: v for k, v in row.items() if k is not None and v not in (None, "")} for row in reader]
    except csv.Error as exc:  # e.g. a field over the csv module's limit of 131,072 characters
        raise ServiceError(f"CSV could not be read (line {reader.line_num}): {exc}") from None


async def _posts(request: Request) -> list[Post]:
    """The posts of an import request: JSON ({"posts": [...]} or a bare array) or CSV."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    from_csv = content_type in ("text/csv", "application/csv")
    if from_csv:  # every CSV value is text: numbers are read from it
        items: Any = _csv_posts(await request.body())
    else:
        data = await read_json(request)
        items = data.get("posts") if isinstance(data, dict) else data
        if not isinstance(items, list):
            raise ServiceError('Send {"posts": [...]} as JSON or a CSV file (Content-Type: text/csv)')
    if len(items) > MAX_POSTS:
        raise ServiceError(f"At most {MAX_POSTS} posts per request")
    max_chars = _services(request).settings.ghostwriter_max_post_chars
    parsed = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise ServiceError(f"posts[{index}].{NOT_OBJECT}")
        try:
            post = Post.model_validate(item, strict=False if from_csv else None)
        except ValidationError as exc:
            raise ServiceError(f"posts[{index}].{describe(exc.errors())}") from None
        if len(post.text) > max_chars:
            raise ServiceError(f"posts[{index}].text exceeds {max_chars} character limit")
        parsed.append(post)
    return parsed


@router.post(
    "/accounts/{account_id}/posts",
    response_model=PostsImported,
    responses=error_responses(400, 404),
    openapi_extra={"requestBody": schemas.posts_request_body(MAX_POSTS)},
)
async def import_posts(account_id: AccountId, request: Request) -> PostsImported:
    """Import posts (idempotent by post id: known posts get their text and counts refreshed)."""
    result = await accounts.import_posts(_services(request), account_id, await _posts(request))
    return PostsImported(
        success=True, account_id=account_id, received=result.received, inserted=result.inserted, updated=result.updated
    )


@router.post("/accounts/{account_id}/sync", response_model=PostsImported, responses=error_responses(400, 404, 502))
async def sync_posts(
    account_id: AccountId,
    request: Request,
    limit: Annotated[schemas.SyncLimit, Query(ge=1, le=3200, description="Newest posts to read.")] = 100,
) -> PostsImported:
    """Import the account's newest posts from the X API v2 (needs X_BEARER_TOKEN)."""
    result = await accounts.sync_posts(_services(request), account_id, limit)
    return PostsImported(
        success=True, account_id=account_id, received=result.received, inserted=result.inserted, updated=result.updated
    )


# ---------------------------------------------------------------- personas: literal paths first


@router.get("/personas/list", response_model=PersonaList)
async def list_personas(request: Request) -> PersonaList:
    """Accounts that have a persona."""
    return PersonaList.of(await personas.list_personas(_services(request)))


@router.get("/personas/analytics", response_model=PersonaAnalytics)
async def persona_analytics(request: Request) -> PersonaAnalytics:
    """System-wide persona statistics."""
    return PersonaAnalytics.of(await personas.analytics(_services(request)))


@router.post(
    "/personas/batch/create",
    response_model=BatchResult,
    responses={**error_responses(400), 202: {"model": BatchAccepted, "description": "Job accepted"}},
)
async def batch_create(
    body: BatchBody,
    request: Request,
    key: ApiKey,
    background: Annotated[
        schemas.Background, Query(description="Answer 202 with a job to poll instead of waiting.")
    ] = False,
) -> BatchResult | Response:
    """The documented synchronous batch; `?background=true` answers 202 with a job to poll instead."""
    services = _services(request)
    if background:
        job_id, total = await batch.submit_job(
            services, key, body.account_ids, force=body.force, post_limit=body.post_limit
        )
        status_url = request.url_for("batch_job_status", job_id=str(job_id)).path
        accepted = BatchAccepted(success=True, job_id=str(job_id), status="queued", status_url=status_url, total=total)
        return JSONResponse(status_code=202, headers={"Location": status_url}, content=accepted.model_dump())
    return BatchResult.of(
        await batch.create_personas(services, body.account_ids, force=body.force, post_limit=body.post_limit)
    )


@router.get(
    "/personas/batch/jobs/{job_id}", name="batch_job_status", response_model=BatchJob, responses=error_responses(404)
)
async def batch_job_status(job_id: str, request: Request, key: ApiKey) -> BatchJob:
    """Status (queued/running/succeeded/failed), progress and, once succeeded, the batch result."""
    return BatchJob.of(await batch.job_status(_services(request), job_id, key))


# ---------------------------------------------------------------- personas by account


@router.get("/personas/{account_id}", response_model=PersonaOut, responses=error_responses(404))
async def get_persona(account_id: AccountId, request: Request) -> PersonaOut:
    """The account's current persona."""
    return PersonaOut(persona=schemas.Persona.of(await personas.current_persona(_services(request), account_id)))


@router.post("/personas/{account_id}/create", response_model=PersonaCreated, responses=error_responses(400, 404, 502))
async def create_persona(account_id: AccountId, body: CreateBody, request: Request) -> PersonaCreated:
    """Create the account's persona from its newest posts."""
    row = await personas.create_persona(_services(request), account_id, force=body.force, post_limit=body.post_limit)
    return PersonaCreated.of(row)


@router.post("/personas/{account_id}/refine", response_model=PersonaRefined, responses=error_responses(400, 404, 502))
async def refine_persona(account_id: AccountId, body: RefineBody, request: Request) -> PersonaRefined:
    """A new persona version from the posts since the current one."""
    return PersonaRefined.of(await personas.refine_persona(_services(request), account_id, post_limit=body.post_limit))


@router.get("/personas/{account_id}/history", response_model=PersonaHistory, responses=error_responses(400, 404))
async def persona_history(
    account_id: AccountId,
    request: Request,
    limit: Annotated[schemas.HistoryLimit, Query(ge=1, le=1000, description="Most versions to return.")] = 10,
) -> PersonaHistory:
    """The persona's versions, newest first."""
    rows, total = await personas.persona_history(_services(request), account_id, limit)
    return PersonaHistory.of(account_id, rows, total)


@router.post(
    "/personas/{account_id}/rollback/{version}", response_model=RolledBack, responses=error_responses(400, 404)
)
async def rollback_persona(
    account_id: AccountId,
    version: Annotated[schemas.Version, Path(description="The version to make current.")],
    request: Request,
) -> RolledBack:
    """Make an earlier version current again (the history keeps every version)."""
    row = await personas.rollback_persona(_services(request), account_id, version)
    return RolledBack(success=True, message=f"Rolled back to version {version}", persona=schemas.Persona.of(row))


@router.post(
    "/personas/{account_id}/generate", response_model=GeneratedPostOut, responses=error_responses(400, 404, 502)
)
async def generate_post(account_id: AccountId, body: GenerateBody, request: Request) -> GeneratedPostOut:
    """A sample post in the persona's voice."""
    post = await posts.generate_post(_services(request), account_id, body.prompt or "", body.max_tokens)
    return GeneratedPostOut(success=True, generated_post=post.text, account_id=post.account_id, handle=post.handle)


@router.post(
    "/personas/{account_id}/chat",
    response_model=ChatResponse,
    response_model_exclude_none=True,
    responses={
        **error_responses(400, 404, 413, 429, 502),
        200: {
            "description": "`stream: false`: the JSON reply. `stream: true` (default): `text/plain` "
            "server-sent events (function_call, text_delta, completed, error; then [DONE]).",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        },
    },
)
async def chat(account_id: AccountId, body: ChatBody, request: Request, key: ApiKey) -> ChatResponse | Response:
    """Chat with the account's persona, streaming (default) or as one JSON reply."""
    services = _services(request)
    body.check_lengths(services.settings.ghostwriter_max_message_chars)
    turn = await start_chat(services, account_id, body.to_request(), key)
    if body.stream:
        return streaming_response(turn, body.include_debug)
    return ChatResponse.of(turn.account_id, turn.handle, await turn.run(), body.include_debug)


# ---------------------------------------------------------------- export and import (not in the contract)


@router.get(
    "/personas/{account_id}/export",
    response_class=Response,
    responses={**EXPORT_RESPONSES, **error_responses(400, 404)},
)
async def export_persona(
    account_id: AccountId,
    request: Request,
    format: Annotated[ExportFormat, Query(description="card_v2, png or bundle")] = "card_v2",
) -> Response:
    """The account's persona as a Character Card V2 (JSON or PNG), or a bundle of every version."""
    return file_response(await transfer.export_persona(_services(request), account_id, format))


@router.post(
    "/personas/{account_id}/import",
    response_model=PersonaRestored,
    responses=error_responses(400, 404),
    openapi_extra={"requestBody": import_request_body("A ghostwriter bundle exported for this account")},
)
async def import_persona(
    account_id: AccountId,
    request: Request,
    force: Annotated[schemas.Force, Query(description="Replace the account's existing persona.")] = False,
) -> PersonaRestored:
    """Restore a ghostwriter bundle's versions (and current version) for the account."""
    restored = await transfer.import_bundle(_services(request), account_id, await read_upload(request), force=force)
    return PersonaRestored(
        success=True,
        account_id=restored.account_id,
        persona_version=restored.persona_version,
        versions_imported=restored.versions_imported,
    )
