"""persona_chat: web search (Tavily) when the request allows it.

Uses the real tavily-python client; `TAVILY_BASE_URL` points it elsewhere (tests use a
stub on 127.0.0.1). Results are quoted reference material for the model, never
instructions, and come back as references {title, uri, preview_url, content}.
"""

from __future__ import annotations

from typing import Any

from graphs.chat_common import emit_progress, last_user_text

MAX_RESULTS = 5
MAX_CONTENT_CHARS = 1500


def _settings():
    from runtime.services import current_services
    from runtime.settings import get_settings

    services = current_services()
    return services.settings if services is not None else get_settings()


async def search_web(state: dict[str, Any]) -> dict[str, Any]:
    """Return {"references": [...], "tool_calls": [...]} (keys optional)."""
    if not state.get("use_web"):
        return {}
    query = last_user_text(state)[:400]
    settings = _settings()
    if not query:
        return {}
    if settings.tavily_api_key is None:
        return {"tool_calls": [{"name": "web_search", "args": {"query": query},
                                "error": "web search is not configured (TAVILY_API_KEY)"}]}
    from tavily import AsyncTavilyClient

    emit_progress("Searching the web...")
    client = AsyncTavilyClient(api_key=settings.tavily_api_key.get_secret_value(),
                               api_base_url=settings.tavily_base_url)
    try:
        answer = await client.search(query, max_results=MAX_RESULTS, timeout=20)
    except Exception as exc:  # the provider failed: answer without web results
        return {"tool_calls": [{"name": "web_search", "args": {"query": query},
                                "error": f"web search failed ({type(exc).__name__})"}]}
    references = [
        {"title": str(r.get("title") or r.get("url") or ""), "uri": str(r.get("url") or ""),
         "preview_url": str(r.get("url") or ""), "content": str(r.get("content") or "")[:MAX_CONTENT_CHARS]}
        for r in (answer.get("results") or [])[:MAX_RESULTS] if isinstance(r, dict)
    ]
    return {"references": references,
            "tool_calls": [{"name": "web_search", "args": {"query": query}, "result_count": len(references)}]}
