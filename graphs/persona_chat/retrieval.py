"""persona_chat's retrieval policy: which collections a turn may search, and the contract's rag_hit.

A studio persona searches only the collections of its rag settings as loaded from
the database (`attributes["rag"]`, also copied into state `rag`/`collections` by
load_persona). `collections`/`rag` in a run's input, or an inline persona, are
ignored: the LangServe routes accept caller-written state, and a caller must not
be able to point a persona at a collection it was not given. A ghostwriter turn
with `use_documents` (the API's `data_sources.documents`) searches the shared
collections the operator configured (`GHOSTWRITER_COLLECTIONS`, every collection
when empty); it never applies to studio or twin personas. Retrieved text reaches
the model only as quoted reference material (the references block). The searching itself
is done by the `search_documents` and `web_search` tools.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from langchain_core.messages import HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.config import get_stream_writer

from graphs.persona_chat.state import RagSettings, ToolCallRecord
from runtime.services import services_of, settings_of
from store.documents import collection_names
from tools.document_search import DEFAULT_K, search_documents
from tools.web_search import web_search

RAG_HIT_FIELDS = ("file_name", "doc_path", "document_string", "euclidean_distance", "cosine_similarity")


def last_user_text(state: Mapping[str, Any]) -> str:
    """The latest human message of the conversation ("" when there is none)."""
    for message in reversed(state.get("messages") or []):
        if isinstance(message, HumanMessage):
            return message.text.strip()
    return ""


def emit_progress(text: str) -> None:
    """A `custom` progress event ("Searching documents..."); a no-op outside a graph run."""
    try:
        get_stream_writer()({"type": "progress", "content": text})
    except RuntimeError:
        pass


def rag_miss() -> dict[str, str]:
    """The contract's rag_hit when nothing passed the threshold (or no retrieval ran)."""
    return {**{name: "" for name in RAG_HIT_FIELDS}, "success": "false"}


def rag_hit_from(metadata: dict[str, Any], content: str) -> dict[str, str]:
    return {
        "file_name": str(metadata.get("file_name", "")),
        "doc_path": str(metadata.get("doc_path", "")),
        "document_string": content,
        "euclidean_distance": f"{float(metadata['euclidean_distance']):.4f}",
        "cosine_similarity": f"{float(metadata['cosine_similarity']):.4f}",
        "success": "true",
    }


def rag_settings(state: Mapping[str, Any]) -> tuple[list[str], RagSettings]:
    """(collections, rag settings) of a persona loaded from the database; ([], {}) otherwise."""
    persona = state.get("persona") or {}
    persona_rag = (persona.get("attributes") or {}).get("rag")
    if state.get("persona_id") is None or persona.get("id") is None or not isinstance(persona_rag, dict):
        return [], {}
    return [str(c) for c in persona_rag.get("db_collections") or []], cast(RagSettings, persona_rag)


def wants_shared_documents(state: Mapping[str, Any]) -> bool:
    """A ghostwriter turn that asked for document search (`data_sources.documents`)."""
    return bool(state.get("use_documents")) and (state.get("persona") or {}).get("kind") == "ghostwriter"


def needs_retrieval(state: Mapping[str, Any]) -> bool:
    """Whether the retrieve node has anything to do this turn (documents or web)."""
    return bool(rag_settings(state)[0]) or wants_shared_documents(state) or bool(state.get("use_web"))


async def shared_collections(pool: Any, configured: str) -> list[str]:
    """GHOSTWRITER_COLLECTIONS as a list; every existing collection when it is empty."""
    names = [name.strip() for name in configured.split(",") if name.strip()]
    if names:
        return names
    return await collection_names(pool)


async def retrieve_documents(
    state: Mapping[str, Any], config: RunnableConfig | None = None, context: object = None
) -> dict[str, Any]:
    """Return {"references": [...], "tool_calls": [...], "rag_hit": {...}}; rag_hit is
    always set (success "false" without collections) so no earlier turn's hit lingers. The
    search runs on the services of the run's `context` (`services_of`)."""
    collections, rag = rag_settings(state)
    question = last_user_text(state)
    shared = not collections and wants_shared_documents(state)
    if not (collections or shared) or not question.strip():
        return {"rag_hit": rag_miss()}
    emit_progress("Searching documents...")
    services = await services_of(context)
    if shared:
        collections = await shared_collections(services.pool, services.settings.ghostwriter_collections)
    metric = "euclidean" if str(rag.get("query_metric", "cosine")).lower() == "euclidean" else "cosine"
    args = {
        "query": question,
        "collections": collections,
        "metric": metric,
        "threshold": rag.get("query_threshold"),
        "k": int(rag.get("k") or DEFAULT_K),
        "services": services,
    }
    found = await search_documents.ainvoke(args, config)
    hits = found["hits"]
    references = [
        {
            "title": f"{h['file_name']} ({h['doc_path']})",
            "content": h["content"],
            "uri": h["doc_path"],
            "collection": h["collection"],
            "cosine_similarity": h["cosine_similarity"],
            "euclidean_distance": h["euclidean_distance"],
        }
        for h in hits
    ]
    tool_calls: list[ToolCallRecord] = [
        {
            "name": "search_documents",
            "args": {"query": question, "collections": collections, "metric": metric, "threshold": found["threshold"]},
            "result": {"hits": len(hits)},
        }
    ]
    rag_hit = rag_hit_from(hits[0], hits[0]["content"]) if hits else rag_miss()
    return {"references": references, "tool_calls": tool_calls, "rag_hit": rag_hit}


async def search_the_web(
    state: Mapping[str, Any], config: RunnableConfig | None = None, context: object = None
) -> dict[str, Any]:
    """Web results for the latest user message when the turn allows web search:
    {"references": [...], "tool_calls": [...]} (keys optional); searched with the settings of the
    run's `context` (`settings_of`)."""
    if not state.get("use_web"):
        return {}
    query = last_user_text(state)[:400]
    if not query:
        return {}
    settings = settings_of(context)
    if settings.tavily_api_key is not None:  # no progress for a search that cannot run
        emit_progress("Searching the web...")
    found = await web_search.ainvoke({"query": query, "settings": settings}, config)
    if found.get("error"):
        return {"tool_calls": [{"name": "web_search", "args": {"query": query}, "error": found["error"]}]}
    return {
        "references": found["results"],
        "tool_calls": [{"name": "web_search", "args": {"query": query}, "result_count": len(found["results"])}],
    }
