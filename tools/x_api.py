"""Read an account's recent posts from the X API v2 (`GET /2/users/:id/tweets`).

Used by the ghostwriter API when X_BEARER_TOKEN is set; `base_url` (X_API_BASE_URL)
points at a stub server in tests. Pages are followed with `pagination_token`.
"""

from __future__ import annotations

from typing import Any

import httpx

from runtime.errors import UpstreamError

PAGE_SIZE = 100


class XApiError(UpstreamError):
    """The X API refused or failed; `detail` is safe to show the client."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def _post(item: dict[str, Any]) -> dict[str, Any]:
    metrics = item.get("public_metrics") or {}
    return {
        "id": str(item["id"]),
        "text": str(item.get("text") or ""),
        "created_at": item.get("created_at"),
        "replies": int(metrics.get("reply_count") or 0),
        "reposts": int(metrics.get("retweet_count") or 0),
        "likes": int(metrics.get("like_count") or 0),
        "views": int(metrics.get("impression_count") or 0),
    }


async def fetch_user_posts(
    user_id: str, *, bearer_token: str, base_url: str, limit: int = 100, timeout_s: float = 20.0
) -> list[dict[str, Any]]:
    """Up to `limit` of the user's newest posts as post dicts (id, text, created_at, metrics)."""
    posts: list[dict[str, Any]] = []
    token: str | None = None
    headers = {"Authorization": f"Bearer {bearer_token}"}
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=timeout_s, trust_env=False) as http:
        while len(posts) < limit:
            params: dict[str, Any] = {
                "max_results": max(5, min(PAGE_SIZE, limit - len(posts))),
                "tweet.fields": "created_at,public_metrics",
            }
            if token:
                params["pagination_token"] = token
            try:
                response = await http.get(f"/2/users/{user_id}/tweets", params=params)
            except httpx.HTTPError:
                raise XApiError("The X API could not be reached") from None
            if response.status_code == 429:
                raise XApiError("The X API rate limit was reached; try again later")
            if response.status_code != 200:
                raise XApiError(f"The X API answered {response.status_code}")
            body = response.json()
            posts += [_post(item) for item in body.get("data") or [] if item.get("created_at")]
            token = (body.get("meta") or {}).get("next_token")
            if not token:
                break
    return posts[:limit]
