"""Document search over pgvector collections as a LangChain tool.

The caller decides which collections may be searched (a persona's own rag settings, or the
operator's shared collections); the tool never widens that list. The caller also hands it the
services to search with (`services`, injected: a model calling the tool never sees it); without
them it uses the process's own (`ensure_services`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from langchain_core.tools import InjectedToolArg, tool
from pydantic import BaseModel, Field

from retrievers.documents import DocumentCollectionRetriever
from runtime.services import ready_services

DEFAULT_K = 4


class DocumentSearchInput(BaseModel):
    query: str = Field(description="What to look for, in natural language")
    collections: list[str] = Field(description="The only collections searched")
    metric: Literal["cosine", "euclidean"] = Field("cosine", description="How closeness is measured")
    threshold: float | None = Field(
        None, description="Cosine similarity floor or euclidean distance ceiling; empty: the metric's default"
    )
    k: int = Field(DEFAULT_K, ge=1, le=50, description="At most this many chunks")
    services: Annotated[Any, InjectedToolArg] = Field(None, description="The caller's services")


@tool("search_documents", args_schema=DocumentSearchInput)
async def search_documents(
    query: str,
    collections: list[str],
    metric: Literal["cosine", "euclidean"] = "cosine",
    threshold: float | None = None,
    k: int = DEFAULT_K,
    services: Annotated[Any, InjectedToolArg] = None,
) -> dict[str, Any]:
    """The chunks of `collections` nearest to `query` that pass the threshold, best first:
    {"threshold": effective threshold, "hits": [{content, collection, file_name, doc_path, chunk_index,
    cosine_similarity, euclidean_distance}]}."""
    services = await ready_services(services)
    retriever = DocumentCollectionRetriever(
        pool=services.pool,
        embeddings=services.require_embeddings(),
        collections=collections,
        metric=metric,
        threshold=threshold,
        k=k,
    )
    docs = await retriever.ainvoke(query)
    return {
        "threshold": retriever.effective_threshold,
        "hits": [{"content": d.page_content, **d.metadata} for d in docs],
    }
