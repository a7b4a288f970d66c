"""persona_chat: web search (Tavily) when the request allows it.

Extension point: the ghostwriter issue implements web search here.
"""

from __future__ import annotations

from typing import Any


async def search_web(state: dict[str, Any]) -> dict[str, Any]:
    """Return {"references": [...], "tool_calls": [...]} (keys optional)."""
    return {}
