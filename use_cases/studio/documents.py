"""Documents in a collection its caller manages: upload (extract text, chunk, embed, store;
re-uploading a path replaces it), list, delete."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Protocol

from runtime.errors import NotFoundError, ServiceError
from runtime.services import Services
from store import documents as docs_store
from store.documents import DocumentRow
from store.types import Pool
from tools.documents import DocumentError, chunk_text, extract_text_async
from use_cases.studio.access import CurrentUser
from use_cases.studio.collections import COLLECTION_NOT_FOUND, find_collection


class UploadedFile(Protocol):
    """What an upload offers (FastAPI's UploadFile has it): its name, type and bytes."""

    @property
    def filename(self) -> str | None: ...

    @property
    def content_type(self) -> str | None: ...

    async def read(self, size: int = -1) -> bytes: ...


@dataclass(frozen=True)
class StoredDocument:
    collection: str
    file_name: str
    doc_path: str
    chunks: int


def clean_doc_path(raw: str) -> str:
    """A relative POSIX path without '..', control characters or backslashes."""
    path = raw.strip().strip("/")
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if (
        not parts
        or len(path) > 512
        or ".." in parts
        or "\\" in path
        or any(ord(ch) < 32 or ord(ch) == 127 for ch in path)
    ):
        raise ServiceError("Invalid document path: use a relative path like 'guides/setup.md'")
    return "/".join(parts)


async def upload_document(
    services: Services, user: CurrentUser, collection: str, file: UploadedFile, path: str | None
) -> StoredDocument:
    """Store a file's text as embedded chunks at `path` (default: the file name). The file is
    read only up to the size limit (413 beyond it)."""
    pool, settings = services.pool, services.settings
    await find_collection(pool, user, collection)
    limit = settings.studio_max_upload_bytes
    file_name = PurePosixPath((file.filename or "").replace("\\", "/")).name
    if not file_name:
        raise ServiceError("The upload needs a file name")
    doc_path = clean_doc_path(path or file_name)
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise ServiceError(f"The file is larger than the limit of {limit} bytes", status=413)
    try:
        text = await extract_text_async(
            file_name, file.content_type, data, max_bytes=limit, max_pages=settings.studio_max_pdf_pages
        )
    except DocumentError as exc:
        raise ServiceError(exc.detail, status=exc.status) from None
    chunks = chunk_text(text, chunk_size=settings.studio_chunk_size, chunk_overlap=settings.studio_chunk_overlap)
    if not chunks:
        raise ServiceError("The document contains no extractable text")
    embeddings = services.require_embeddings()
    vectors = await asyncio.to_thread(embeddings.embed_documents, chunks)
    try:
        count = await docs_store.replace_document(
            pool, collection=collection, file_name=file_name, doc_path=doc_path, chunks=chunks, embeddings=vectors
        )
    except docs_store.CollectionNotFound:  # deleted while the file was being embedded
        raise NotFoundError(COLLECTION_NOT_FOUND) from None
    return StoredDocument(collection, file_name, doc_path, count)


async def list_documents(pool: Pool, user: CurrentUser, collection: str) -> list[DocumentRow]:
    await find_collection(pool, user, collection)
    return await docs_store.list_documents(pool, collection)


async def delete_document(pool: Pool, user: CurrentUser, collection: str, doc_path: str) -> int:
    """Delete a document's chunks; how many went (404 when the path holds no document)."""
    await find_collection(pool, user, collection)
    deleted = await docs_store.delete_document(pool, collection, clean_doc_path(doc_path))
    if not deleted:
        raise NotFoundError("Document not found")
    return deleted
