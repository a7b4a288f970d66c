"""Files over HTTP for export and import: an exported file as a download, and an uploaded file
(a raw body, or the `file` field of a multipart form) read with the import size limit, so an
oversized upload is refused while it arrives instead of after it was buffered whole."""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response
from starlette.datastructures import UploadFile
from starlette.types import Message

from runtime.errors import ServiceError
from use_cases.portable.files import MAX_IMPORT_BYTES, ExportFile, too_large

# what a multipart form adds around the file: boundaries, part headers, small fields
MULTIPART_SLACK = 64 * 1024

EXPORT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The file: JSON for card_v2 and bundle, a PNG card for png",
        "content": {"application/json": {"schema": {"type": "object"}}, "image/png": {}},
    }
}


def import_request_body(description: str) -> dict[str, Any]:
    """OpenAPI of an import's body: the file as JSON, or as the `file` field of a form."""
    return {
        "required": True,
        "description": description,
        "content": {
            "application/json": {"schema": {"type": "object"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "string", "format": "binary"}},
                    "required": ["file"],
                }
            },
        },
    }


def file_response(file: ExportFile) -> Response:
    return Response(
        file.body,
        media_type=file.media_type,
        headers={"Content-Disposition": f'attachment; filename="{file.filename}"'},
    )


async def read_upload(request: Request) -> bytes:
    """The uploaded file's bytes: the `file` field of a multipart form, else the whole body."""
    cap = MAX_IMPORT_BYTES + MULTIPART_SLACK
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > cap:
        raise too_large()
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > cap:
            raise too_large()
    content_type = request.headers.get("content-type", "").lower()
    if not content_type.startswith("multipart/form-data"):
        if len(body) > MAX_IMPORT_BYTES:
            raise too_large()
        return bytes(body)
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": bytes(body), "more_body": False}

    form = await Request(request.scope, receive).form(max_files=1, max_fields=5)
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise ServiceError('Send the file in a multipart form field named "file"')
        data = await upload.read(MAX_IMPORT_BYTES + 1)
    finally:
        await form.close()
    if len(data) > MAX_IMPORT_BYTES:
        raise too_large()
    return data
