"""REST adapter for the ghostwriter contract (`ghostwriter-persona-api.md`), plus account/post import.

Every route needs `X-API-Key` (compared in constant time with BO_API_KEY; 403 otherwise).
Validation errors are 400 {"detail": ...}: bodies, path and query values are validated
here, never by FastAPI's 422 handler. Literal routes come before `/personas/{account_id}`.
"""

from __future__ import annotations

import csv
import hmac
import io
import uuid
from datetime import timezone
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse

from graphs.persona_builder import BuilderContext, BuilderError
from graphs.persona_builder.graph import graph as persona_builder
from graphs.persona_builder.post_writing import write_post
from runtime.errors import ConfigError
from runtime.models import make_chat_model
from runtime.services import Services
from server.ghostwriter import batch, schemas
from server.ghostwriter.chat import PROVIDER_FAILED, plan_chat, run_chat
from server.ghostwriter.schemas import AccountBody, BatchBody, CreateBody, PostBody, RefineBody, bad_request
from server.ghostwriter.sse import streaming_response
from store import accounts as accounts_store
from store import budgets
from store import ghostwriter as gw_store


def api_key(request: Request) -> bytes:
    """The caller's key as raw bytes, if it matches BO_API_KEY (403 otherwise)."""
    expected = request.app.state.services.settings.bo_api_key
    raw = next((v for k, v in request.headers.raw if k.lower() == b"x-api-key"), None)
    if expected is None or raw is None or not hmac.compare_digest(raw, expected.get_secret_value().encode("utf-8")):
        raise HTTPException(status_code=403, detail="Invalid or missing API key")
    return raw


router = APIRouter(dependencies=[Depends(api_key)])


def _services(request: Request) -> Services:
    return request.app.state.services


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _persona_body(row: dict[str, Any]) -> dict[str, Any]:
    details = row["details"] or {}
    return {
        "system_prompt": row["system_prompt"],
        "version": row["version"],
        "posts_analyzed": int(details.get("posts_analyzed", 0)),
        "posts_analyzed_count": int(details.get("posts_analyzed_count", 0)),
        "confidence_score": float(details.get("confidence_score", 0.0)),
        "style_traits": list(row["style_traits"] or []),
        "refinement_summary": row["refinement_summary"],
        "engagement_aware": bool(details.get("engagement_aware", True)),
        "avg_engagement": float(details.get("avg_engagement", 0.0)),
        "created_at": _iso(row["created_at"]),
    }


async def _account(services: Services, account_id: str) -> dict[str, Any]:
    account = await accounts_store.get_account(services.pool, account_id)
    if account is None:
        raise HTTPException(status_code=404, detail="Account not found")
    return account


async def _persona(services: Services, account_id: str) -> dict[str, Any]:
    row = await gw_store.current_version(services.pool, account_id)
    if row is None:
        raise HTTPException(status_code=404, detail="Persona not found for this account")
    return row


def _bool_param(value: str | None, name: str) -> bool:
    if value is None:
        return False
    lowered = value.strip().lower()
    if lowered not in ("true", "false", "1", "0"):
        raise bad_request(f"{name} must be true or false")
    return lowered in ("true", "1")


def _int_param(value: str | None, name: str, default: int, low: int, high: int) -> int:
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise bad_request(f"{name} must be an integer") from None
    if not low <= number <= high:
        raise bad_request(f"{name} must be between {low} and {high}")
    return number


async def _build(services: Services, **state: Any) -> dict[str, Any]:
    try:
        return await persona_builder.ainvoke(state, context=BuilderContext(model=services.settings.chat_model))
    except BuilderError as exc:
        raise HTTPException(status_code=exc.status, detail=exc.detail) from None
    except ConfigError as exc:
        raise HTTPException(status_code=502, detail=str(exc)) from None
    except Exception:
        raise HTTPException(status_code=502, detail="Persona creation failed: the model provider did not respond") \
            from None


# ---------------------------------------------------------------- accounts and posts (not in the contract)


@router.post("/accounts")
async def create_account(request: Request) -> dict[str, Any]:
    body = await schemas.parse_body(request, AccountBody)
    row = await accounts_store.upsert_account(_services(request).pool, account_id=body.id, handle=body.handle,
                                              display_name=body.display_name, avatar_url=body.avatar_url,
                                              active=body.active)
    return {"success": True, "account": dict(row)}


def _csv_posts(raw: bytes) -> list[dict[str, Any]]:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise bad_request("CSV must be UTF-8") from None
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or not {"id", "text", "created_at"} <= set(reader.fieldnames):
        raise bad_request("CSV needs a header with at least id, text and created_at")
    return [{k: v for k, v in row.items() if k is not None and v not in (None, "")} for row in reader]


@router.post("/accounts/{account_id}/posts")
async def import_posts(account_id: str, request: Request) -> dict[str, Any]:
    services = _services(request)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type in ("text/csv", "application/csv"):
        items = _csv_posts(await request.body())
    else:
        data = await schemas.read_json(request)
        items = data.get("posts") if isinstance(data, dict) else data
        if not isinstance(items, list):
            raise bad_request("Send {\"posts\": [...]} as JSON or a CSV file (Content-Type: text/csv)")
    if len(items) > 10_000:
        raise bad_request("At most 10000 posts per request")
    posts = []
    for index, item in enumerate(items):
        try:
            posts.append(schemas.validate(PostBody, item).model_dump())
        except HTTPException as exc:
            raise bad_request(f"posts[{index}].{exc.detail}") from None
    await _account(services, account_id)
    inserted, updated = await accounts_store.import_posts(services.pool, account_id, posts)
    return {"success": True, "account_id": account_id, "received": len(posts), "inserted": inserted,
            "updated": updated}


@router.post("/accounts/{account_id}/sync")
async def sync_posts(account_id: str, request: Request) -> dict[str, Any]:
    """Import the account's newest posts from the X API v2 (needs X_BEARER_TOKEN)."""
    from tools.x_api import XApiError, fetch_user_posts

    services = _services(request)
    settings = services.settings
    limit = _int_param(request.query_params.get("limit"), "limit", 100, 1, 3200)
    if settings.x_bearer_token is None:
        raise bad_request("X API sync is not configured (set X_BEARER_TOKEN)")
    await _account(services, account_id)
    try:
        items = await fetch_user_posts(account_id, bearer_token=settings.x_bearer_token.get_secret_value(),
                                       base_url=settings.x_api_base_url, limit=limit)
    except XApiError as exc:
        raise HTTPException(status_code=502, detail=exc.detail) from None
    posts = [schemas.validate(PostBody, item).model_dump() for item in items]
    inserted, updated = await accounts_store.import_posts(services.pool, account_id, posts)
    return {"success": True, "account_id": account_id, "received": len(posts), "inserted": inserted,
            "updated": updated}


# ---------------------------------------------------------------- personas: literal paths first


@router.get("/personas/list")
async def list_personas(request: Request) -> dict[str, Any]:
    rows = await gw_store.list_personas(_services(request).pool)
    personas = [{"account_id": r["account_id"], "handle": r["handle"], "display_name": r["display_name"],
                 "avatar_url": r["avatar_url"], "persona_version": int(r["persona_version"] or 1),
                 "posts_analyzed": int((r["details"] or {}).get("posts_analyzed", 0))} for r in rows]
    return {"personas": personas, "total": len(personas)}


@router.get("/personas/analytics")
async def persona_analytics(request: Request) -> dict[str, Any]:
    row = await gw_store.analytics(_services(request).pool)
    total, with_personas = int(row["total_accounts"]), int(row["accounts_with_personas"])
    return {
        "total_accounts": total,
        "accounts_with_personas": with_personas,
        "coverage_percentage": round(100.0 * with_personas / total, 2) if total else 0.0,
        "avg_persona_version": round(float(row["avg_version"] or 0.0), 2),
        "avg_posts_analyzed": round(float(row["avg_posts"] or 0.0), 2),
    }


@router.post("/personas/batch/create")
async def batch_create(request: Request):
    """The documented synchronous batch; `?background=true` answers 202 with a job to poll instead."""
    services = _services(request)
    background = _bool_param(request.query_params.get("background"), "background")
    body = await schemas.parse_body(request, BatchBody)
    ids = body.account_ids
    if ids is None:
        ids = await accounts_store.active_accounts_without_persona(services.pool)
    ids = list(dict.fromkeys(ids))
    if background:
        job_id = await batch.start_job(services, key_hash=budgets.key_hash(api_key(request)), account_ids=ids,
                                       force=body.force, post_limit=body.post_limit)
        status_url = request.url_for("batch_job_status", job_id=str(job_id)).path
        return JSONResponse(status_code=202, headers={"Location": status_url},
                            content={"success": True, "job_id": str(job_id), "status": "queued",
                                     "status_url": status_url, "total": len(ids)})
    results = await batch.run_batch(services, ids, force=body.force, post_limit=body.post_limit)
    return batch.batch_body(results)


@router.get("/personas/batch/jobs/{job_id}", name="batch_job_status")
async def batch_job_status(job_id: str, request: Request) -> dict[str, Any]:
    """Status (queued/running/succeeded/failed), progress and, once succeeded, the batch result."""
    not_found = HTTPException(status_code=404, detail="Batch job not found")
    try:
        parsed = uuid.UUID(job_id)
    except ValueError:
        raise not_found from None
    body = await batch.job_status(_services(request), parsed, budgets.key_hash(api_key(request)))
    if body is None:
        raise not_found
    return body


# ---------------------------------------------------------------- personas by account


@router.get("/personas/{account_id}")
async def get_persona(account_id: str, request: Request) -> dict[str, Any]:
    return {"persona": _persona_body(await _persona(_services(request), account_id))}


@router.post("/personas/{account_id}/create")
async def create_persona(account_id: str, request: Request) -> dict[str, Any]:
    body = await schemas.parse_body(request, CreateBody)
    services = _services(request)
    await _build(services, account_id=account_id, mode="create", force=body.force,
                       post_limit=body.post_limit)
    persona = _persona_body(await _persona(services, account_id))
    keys = ("version", "system_prompt", "posts_analyzed_count", "confidence_score", "style_traits",
            "refinement_summary", "engagement_aware", "avg_engagement")
    return {"success": True, "persona": {k: persona[k] for k in keys}}


@router.post("/personas/{account_id}/refine")
async def refine_persona(account_id: str, request: Request) -> dict[str, Any]:
    body = await schemas.parse_body(request, RefineBody)
    services = _services(request)
    await _build(services, account_id=account_id, mode="refine", post_limit=body.post_limit)
    persona = _persona_body(await _persona(services, account_id))
    keys = ("version", "system_prompt", "posts_analyzed_count", "confidence_score", "refinement_summary")
    return {"success": True, "persona": {k: persona[k] for k in keys}}


@router.get("/personas/{account_id}/history")
async def persona_history(account_id: str, request: Request) -> dict[str, Any]:
    limit = _int_param(request.query_params.get("limit"), "limit", 10, 1, 1000)
    services = _services(request)
    await _persona(services, account_id)
    rows, total = await gw_store.history(services.pool, account_id, limit)
    versions = []
    for row in rows:
        item = {"version": row["version"], "system_prompt": row["system_prompt"],
                "posts_analyzed_count": int((row["details"] or {}).get("posts_analyzed_count", 0)),
                "refinement_summary": row["refinement_summary"],
                "confidence_score": float((row["details"] or {}).get("confidence_score", 0.0)),
                "created_at": _iso(row["created_at"])}
        versions.append(item)
    return {"account_id": account_id, "versions": versions, "total_versions": total}


@router.post("/personas/{account_id}/rollback/{version}")
async def rollback_persona(account_id: str, version: str, request: Request) -> dict[str, Any]:
    try:
        number = int(version)
    except ValueError:
        raise bad_request("version must be an integer") from None
    services = _services(request)
    await _persona(services, account_id)
    if not await gw_store.rollback(services.pool, account_id, number):
        raise bad_request(f"Version {number} not found in history")
    return {"success": True, "message": f"Rolled back to version {number}",
            "persona": _persona_body(await _persona(services, account_id))}


@router.post("/personas/{account_id}/generate")
async def generate_post(account_id: str, request: Request) -> dict[str, Any]:
    body = await schemas.parse_generate(request)
    services = _services(request)
    account = await _account(services, account_id)
    persona = await _persona(services, account_id)
    try:
        model = make_chat_model(services.settings.chat_model, temperature=0.7, max_tokens=body.max_tokens,
                                settings=services.settings)
        examples = (persona["details"] or {}).get("voice_examples") or []
        post = await write_post(model, persona["system_prompt"], examples, body.prompt)
    except Exception:
        raise HTTPException(status_code=502, detail=PROVIDER_FAILED) from None
    return {"success": True, "generated_post": post, "account_id": account_id,
            "handle": account["handle"]}


@router.post("/personas/{account_id}/chat")
async def chat(account_id: str, request: Request):
    key = api_key(request)
    body = await schemas.parse_chat(request)
    services = _services(request)
    row = await gw_store.account_with_persona(services.pool, account_id)
    if row is None:
        raise HTTPException(status_code=404, detail="Account not found")
    if row["persona_id"] is None or row["system_prompt"] is None:
        raise HTTPException(status_code=404, detail="Persona not found for this account")
    account = {k: row[k] for k in ("id", "handle", "display_name", "avatar_url", "active")}
    plan = await plan_chat(services, account, dict(row), body, key)
    if body.stream:
        return streaming_response(services, plan)
    return JSONResponse(await run_chat(services, plan))


