"""A LangChain retriever over document collections, restricted to the collections it is given.

`metric="cosine"` keeps hits whose cosine similarity is >= `threshold`;
`metric="euclidean"` keeps hits whose euclidean distance is <= `threshold`.
Each returned Document carries both numbers in its metadata.
"""

from __future__ import annotations

from typing import Any, Literal

from langchain_core.callbacks import AsyncCallbackManagerForRetrieverRun, CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, Field

from store.documents import search_chunks

DEFAULT_THRESHOLDS = {"cosine": 0.3, "euclidean": 1.2}


def passes_threshold(metric: str, threshold: float, cosine_similarity: float, euclidean_distance: float) -> bool:
    if metric == "cosine":
        return cosine_similarity >= threshold
    return euclidean_distance <= threshold


class DocumentCollectionRetriever(BaseRetriever):
    """Nearest chunks in `collections` that pass the metric's threshold, best first."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    pool: Any
    embeddings: Embeddings
    collections: list[str] = Field(default_factory=list)
    metric: Literal["cosine", "euclidean"] = "cosine"
    threshold: float | None = None
    k: int = 4

    @property
    def effective_threshold(self) -> float:
        return DEFAULT_THRESHOLDS[self.metric] if self.threshold is None else float(self.threshold)

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun
    ) -> list[Document]:
        if not self.collections or not query.strip():
            return []
        vector = await self.embeddings.aembed_query(query)
        rows = await search_chunks(
            self.pool, query_vector=vector, collections=self.collections, metric=self.metric, k=self.k
        )
        threshold = self.effective_threshold
        docs = []
        for row in rows:
            cos, dist = float(row["cosine_similarity"]), float(row["euclidean_distance"])
            if not passes_threshold(self.metric, threshold, cos, dist):
                continue
            docs.append(
                Document(
                    page_content=row["content"],
                    metadata={
                        "collection": row["collection"],
                        "file_name": row["file_name"],
                        "doc_path": row["doc_path"],
                        "chunk_index": row["chunk_index"],
                        "cosine_similarity": cos,
                        "euclidean_distance": dist,
                    },
                )
            )
        return docs

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        raise NotImplementedError("DocumentCollectionRetriever is async-only; use ainvoke().")
