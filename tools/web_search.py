"""Web search (Tavily) as a LangChain tool.

Uses the real tavily-python client; TAVILY_BASE_URL points it elsewhere (tests use a stub on
127.0.0.1). Off unless TAVILY_API_KEY is set. A provider failure is reported in the result,
never raised: a chat turn then answers without web results.
"""

from __future__ import annotations

from typing import Annotated, Any

from langchain_core.tools import InjectedToolArg, tool

from runtime.services import current_settings
from runtime.settings import Settings

MAX_RESULTS = 5
MAX_CONTENT_CHARS = 1500
MAX_QUERY_CHARS = 400


@tool("web_search")
async def web_search(query: str, settings: Annotated[Any, InjectedToolArg] = None) -> dict[str, Any]:
    """Search the web for `query`. Returns {"results": [{title, uri, preview_url, content}]} or
    {"results": [], "error": "..."} when search is not configured or the provider failed."""
    query = query[:MAX_QUERY_CHARS]
    settings = settings if isinstance(settings, Settings) else current_settings()
    if settings.tavily_api_key is None:
        return {"results": [], "error": "web search is not configured (TAVILY_API_KEY)"}
    from tavily import AsyncTavilyClient

    client = AsyncTavilyClient(
        api_key=settings.tavily_api_key.get_secret_value(), api_base_url=settings.tavily_base_url
    )
    try:
        answer = await client.search(query, max_results=MAX_RESULTS, timeout=20)
    except Exception as exc:  # the provider failed: the caller answers without web results
        return {"results": [], "error": f"web search failed ({type(exc).__name__})"}
    results = [
        {
            "title": str(r.get("title") or r.get("url") or ""),
            "uri": str(r.get("url") or ""),
            "preview_url": str(r.get("url") or ""),
            "content": str(r.get("content") or "")[:MAX_CONTENT_CHARS],
        }
        for r in (answer.get("results") or [])[:MAX_RESULTS]
        if isinstance(r, dict)
    ]
    return {"results": results}
