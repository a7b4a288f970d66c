"""A LangChain retriever over the segment clusters in pgvector.

Each Document is one cluster: its summary as the text; id, name, measured attributes and
cosine similarity (clamped to [0, 1]) in the metadata; nearest first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForRetrieverRun, CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from store.clusters import ClusterMatchRow, search_clusters


def cluster_document(row: ClusterMatchRow) -> Document:
    return Document(
        page_content=row["summary"],
        metadata={
            "cluster_id": row["id"],
            "cluster_name": row["name"],
            "attributes": row["attributes"] or {},
            "similarity": row["similarity"],
        },
    )


class ClusterRetriever(BaseRetriever):
    """The `k` clusters nearest to a query, best first."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    pool: Any
    embeddings: Embeddings
    k: int = 50

    async def asearch_by_vector(self, vector: Sequence[float]) -> list[Document]:
        """The same search for a query that is already embedded (the router embeds once and
        reuses the vector to rank personas)."""
        return [cluster_document(row) for row in await search_clusters(self.pool, vector, limit=self.k)]

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun
    ) -> list[Document]:
        return await self.asearch_by_vector(await self.embeddings.aembed_query(query))

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        raise NotImplementedError("ClusterRetriever is async-only; use ainvoke().")
