"""REST adapter for the Twin-chat contract (`contracts/twin-chat-v1.md`).

Thin: validate the request, run the `cluster_router` or `persona_chat` graph (or a
repository read), shape the contract's response. When TWIN_API_KEY is set every route
needs a matching `X-API-Key` header; the caller's chat sessions are keyed by that key.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import uuid

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from fastapi.security import APIKeyHeader
from langchain_core.messages import HumanMessage
from pydantic import BaseModel, ConfigDict, Field

from graphs.persona_chat.context import ChatContext
from graphs.cluster_router import ClusterNotFound, TwinPersonaNotFound
from store.clusters import cluster_personas, get_cluster, get_segment_persona
from store.twin import resolve_session

log = logging.getLogger(__name__)

CLUSTER_SUMMARY_CHARS = 150
PERSONA_SUMMARY_CHARS = 200
ANONYMOUS = "anonymous"

_api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False,
                               description="Required when the server sets TWIN_API_KEY.")


async def caller_id(request: Request, api_key: str | None = Depends(_api_key_header)) -> str:
    """Check the optional API key; return who is calling (used to key chat sessions)."""
    expected = request.app.state.services.settings.twin_api_key
    if expected is None or not expected.get_secret_value():
        return ANONYMOUS
    if not api_key or not hmac.compare_digest(api_key.encode(), expected.get_secret_value().encode()):
        raise HTTPException(status_code=401, detail="Missing or invalid API key (X-API-Key header).",
                            headers={"WWW-Authenticate": "APIKey"})
    return "key:" + hashlib.sha256(api_key.encode()).hexdigest()[:16]


router = APIRouter(dependencies=[Depends(caller_id)])

TopK = Field(ge=1, le=50, description="How many results to return (1 to 50).")
QueryText = Field(min_length=1, max_length=2000, description="Free-text description of the segment.")


class QueryClustersRequest(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)
    query: str = QueryText
    top_k: int = Field(3, ge=1, le=50, description="How many clusters to return (1 to 50).")


class RefinePersonasRequest(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)
    query: str = QueryText
    top_k: int = Field(5, ge=1, le=50, description="At most this many personas (1 to 50).")


class ClusterOut(BaseModel):
    cluster_id: int
    cluster_name: str
    similarity: float
    summary: str


class PersonaOut(BaseModel):
    persona_id: int
    persona_name: str
    gender: str
    age: str
    summary: str


class StartChatOut(BaseModel):
    persona_id: int
    persona_name: str
    cluster_name: str
    greeting: str


class ChatRequest(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)
    message: str = Field(min_length=1, max_length=8000)
    session_id: str | None = Field(None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$",
                                   description="Keep a conversation (reuse the id) or start a new one "
                                               "(a new id). Omitted: the caller's latest session.")


class ChatOut(BaseModel):
    persona_id: int
    reply: str
    session_id: str


def cluster_summary(text: str) -> str:
    """The contract's cluster summary: the first 150 characters, then '...'."""
    return text[:CLUSTER_SUMMARY_CHARS] + "..."


def persona_summary(text: str) -> str:
    """The contract's persona summary: the first 200 characters."""
    return text[:PERSONA_SUMMARY_CHARS]


def _persona_out(p: dict) -> PersonaOut:
    return PersonaOut(persona_id=p["persona_id"], persona_name=p.get("persona_name") or p["name"],
                      gender=p["gender"], age=p.get("age") or p["age_band"], summary=persona_summary(p["summary"]))


def _router_graph(request: Request):
    return request.app.state.graphs["cluster_router"]


@router.post("/query_clusters", response_model=list[ClusterOut])
async def query_clusters(body: QueryClustersRequest, request: Request) -> list[ClusterOut]:
    state = await _router_graph(request).ainvoke({"task": "clusters", "query": body.query, "top_k": body.top_k})
    return [ClusterOut(cluster_id=c["cluster_id"], cluster_name=c["cluster_name"], similarity=c["similarity"],
                       summary=cluster_summary(c["summary"])) for c in state.get("clusters") or []]


@router.get("/cluster/{cluster_id}/personas", response_model=list[PersonaOut])
async def list_cluster_personas(request: Request, cluster_id: int = Path(...)) -> list[PersonaOut]:
    pool = request.app.state.services.pool
    if await get_cluster(pool, cluster_id) is None:
        raise HTTPException(status_code=404, detail=f"Cluster {cluster_id} not found")
    return [_persona_out(p) for p in await cluster_personas(pool, cluster_id)]


@router.post("/cluster/{cluster_id}/refine_personas", response_model=list[PersonaOut])
async def refine_personas(body: RefinePersonasRequest, request: Request,
                          cluster_id: int = Path(...)) -> list[PersonaOut]:
    if await get_cluster(request.app.state.services.pool, cluster_id) is None:
        raise HTTPException(status_code=404, detail=f"Cluster {cluster_id} not found")
    try:
        state = await _router_graph(request).ainvoke(
            {"task": "personas", "query": body.query, "top_k": body.top_k, "cluster_id": cluster_id})
    except ClusterNotFound as exc:  # deleted by a concurrent import
        raise HTTPException(status_code=404, detail=str(exc)) from None
    return [_persona_out(p) for p in state.get("personas") or []]


@router.get("/persona/{persona_id}/start_chat", response_model=StartChatOut)
async def start_chat(request: Request, persona_id: int = Path(...)) -> StartChatOut:
    try:
        state = await _router_graph(request).ainvoke({"task": "greeting", "persona_id": persona_id})
    except TwinPersonaNotFound:
        raise HTTPException(status_code=404, detail=f"Persona {persona_id} not found") from None
    return StartChatOut(**state["greeting"])


@router.post("/persona/{persona_id}/chat", response_model=ChatOut, response_model_exclude_none=True)
async def chat(body: ChatRequest, request: Request, persona_id: int = Path(...),
               caller: str = Depends(caller_id)) -> ChatOut:
    services = request.app.state.services
    if await get_segment_persona(services.pool, persona_id) is None:
        raise HTTPException(status_code=404, detail=f"Persona {persona_id} not found")
    session_id, thread_id = await resolve_session(services.pool, caller, persona_id, body.session_id)
    graph = request.app.state.graphs["persona_chat"]
    try:
        state = await graph.ainvoke(
            {"messages": [HumanMessage(content=body.message)], "persona_id": persona_id},
            config={"configurable": {"thread_id": thread_id}, "run_id": uuid.uuid4()},
            context=ChatContext(model=services.settings.chat_model),
        )
    except Exception as exc:
        log.exception("twin chat failed for persona %s", persona_id)
        raise HTTPException(status_code=502, detail=f"The chat model failed: {type(exc).__name__}") from None
    return ChatOut(persona_id=persona_id, reply=state.get("reply", ""), session_id=session_id)
