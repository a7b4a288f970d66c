"""persona_chat: document retrieval from the persona's collections (pgvector).

A studio persona searches only the collections of its rag settings as loaded from
the database (`attributes["rag"]`, also copied into state `rag`/`collections` by
load_persona). `collections`/`rag` in a run's input, or an inline persona, are
ignored: the LangServe routes accept caller-written state, and a caller must not
be able to point a persona at a collection it was not given. A ghostwriter turn
with `use_documents` (the API's `data_sources.documents`) searches the shared
collections the operator configured (`GHOSTWRITER_COLLECTIONS`, every collection
when empty); it never applies to studio or twin personas. Retrieved text reaches
the model only as quoted reference material (the references block).
"""

from __future__ import annotations

from typing import Any

from graphs.chat_common import emit_progress, last_user_text

RAG_HIT_FIELDS = ("file_name", "doc_path", "document_string", "euclidean_distance", "cosine_similarity")
DEFAULT_K = 4


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


def rag_settings(state: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
    """(collections, rag settings) of a persona loaded from the database; ([], {}) otherwise."""
    persona = state.get("persona") or {}
    persona_rag = (persona.get("attributes") or {}).get("rag")
    if state.get("persona_id") is None or persona.get("id") is None or not isinstance(persona_rag, dict):
        return [], {}
    return [str(c) for c in persona_rag.get("db_collections") or []], persona_rag


def wants_shared_documents(state: dict[str, Any]) -> bool:
    """A ghostwriter turn that asked for document search (`data_sources.documents`)."""
    return bool(state.get("use_documents")) and (state.get("persona") or {}).get("kind") == "ghostwriter"


def needs_retrieval(state: dict[str, Any]) -> bool:
    """Whether the retrieve node has anything to do this turn (documents or web)."""
    return bool(rag_settings(state)[0]) or wants_shared_documents(state) or bool(state.get("use_web"))


async def shared_collections(pool: Any, configured: str) -> list[str]:
    """GHOSTWRITER_COLLECTIONS as a list; every existing collection when it is empty."""
    names = [name.strip() for name in configured.split(",") if name.strip()]
    if names:
        return names
    from store.documents import collection_names

    return await collection_names(pool)


async def retrieve_documents(state: dict[str, Any]) -> dict[str, Any]:
    """Return {"references": [...], "tool_calls": [...], "rag_hit": {...}}; rag_hit is
    always set (success "false" without collections) so no earlier turn's hit lingers."""
    collections, rag = rag_settings(state)
    question = last_user_text(state)
    shared = not collections and wants_shared_documents(state)
    if not (collections or shared) or not question.strip():
        return {"rag_hit": rag_miss()}
    from retrievers.documents import DocumentCollectionRetriever
    from runtime.services import ensure_services

    emit_progress("Searching documents...")
    services = await ensure_services()
    if shared:
        collections = await shared_collections(services.pool, services.settings.ghostwriter_collections)
    metric = "euclidean" if str(rag.get("query_metric", "cosine")).lower() == "euclidean" else "cosine"
    retriever = DocumentCollectionRetriever(
        pool=services.pool, embeddings=services.require_embeddings(), collections=collections,
        metric=metric, threshold=rag.get("query_threshold"), k=int(rag.get("k") or DEFAULT_K))
    docs = await retriever.ainvoke(question)
    references = [{
        "title": f"{d.metadata['file_name']} ({d.metadata['doc_path']})",
        "content": d.page_content,
        "uri": d.metadata["doc_path"],
        "collection": d.metadata["collection"],
        "cosine_similarity": d.metadata["cosine_similarity"],
        "euclidean_distance": d.metadata["euclidean_distance"],
    } for d in docs]
    tool_calls = [{
        "name": "search_documents",
        "args": {"query": question, "collections": collections, "metric": metric,
                 "threshold": retriever.effective_threshold},
        "result": {"hits": len(docs)},
    }]
    rag_hit = rag_hit_from(docs[0].metadata, docs[0].page_content) if docs else rag_miss()
    return {"references": references, "tool_calls": tool_calls, "rag_hit": rag_hit}
