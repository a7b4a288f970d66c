"""persona_chat node: read the request's attachments (images, PDFs).

Extension point: the ghostwriter issue implements image parts and PDF text here.
"""

from __future__ import annotations

from typing import Any


async def read_attachments(state: dict[str, Any]) -> dict[str, Any]:
    if state.get("attachments"):
        raise NotImplementedError("attachments are not supported yet")
    return {"attachment_parts": []}
