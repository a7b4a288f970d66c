"""Helpers shared by the ghostwriter tests: settings with an API key, sample data, a fake responder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from langchain_core.messages import BaseMessage
from pydantic import SecretStr

from runtime.settings import Settings
from use_cases.ghostwriter.sample_accounts import load_sample_accounts

API_KEY = "gw-test-key-0123456789"
HEADERS = {"X-API-Key": API_KEY}
SAMPLE_POST = "gm frens 🌙 bitcoin is a whole mood, not financial advice"


def ghostwriter_settings(database_url: str, tmp_path: Path, **extra: Any) -> Settings:
    """Settings for a ghostwriter test: the fresh database, the scripted model, BO_API_KEY set."""
    return Settings(
        _env_file=None,
        database_url=database_url,
        data_dir=tmp_path / "data",
        chat_model="fake:scripted",
        jwt_secret="x" * 48,
        twin_demo_autoload=False,
        bo_api_key=SecretStr(API_KEY),
        **extra,
    )


ANALYSIS = {"traits": ["playful crypto slang"], "voice": "A cheerful crypto fan.", "topics": ["bitcoin", "memecoins"]}


def last_text(messages: list[BaseMessage]) -> str:
    content = messages[-1].content
    if isinstance(content, list):
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return str(content)


def builder_responder(messages: list[BaseMessage]) -> str:
    """Answers the style-analysis call with JSON and every other call with a sample post."""
    if "Return JSON with" in last_text(messages):
        return json.dumps(ANALYSIS)
    return SAMPLE_POST


def sample_account(index: int = 0) -> dict:
    return load_sample_accounts()[index]


async def add_account(client, account: dict, posts: list[dict] | None = None) -> None:
    r = await client.post(
        "/ghostwriter/accounts",
        headers=HEADERS,
        json={
            "id": account["account_id"],
            "handle": account["handle"],
            "display_name": account["display_name"],
            "avatar_url": account["avatar_url"],
        },
    )
    assert r.status_code == 200, r.text
    if posts:
        r = await client.post(
            f"/ghostwriter/accounts/{account['account_id']}/posts", headers=HEADERS, json={"posts": posts}
        )
        assert r.status_code == 200, r.text
