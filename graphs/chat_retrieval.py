"""persona_chat: document retrieval from the persona's collections (pgvector).

Extension point: the studio issue implements retrieval here.
"""

from __future__ import annotations

from typing import Any


async def retrieve_documents(state: dict[str, Any]) -> dict[str, Any]:
    """Return {"references": [...], "tool_calls": [...], "rag_hit": {...}} (keys optional)."""
    return {}
