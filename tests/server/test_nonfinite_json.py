"""NaN and Infinity in a JSON body (Python's json accepts them) get the API's validation error,
never a 500: the default 422 body echoes the input, which cannot be rendered as JSON."""

from __future__ import annotations

import pytest

from runtime.settings import Settings
from tests.support.ghostwriter import HEADERS, ghostwriter_settings


@pytest.fixture
def settings(fresh_db_url, tmp_path) -> Settings:
    return ghostwriter_settings(fresh_db_url, tmp_path)


@pytest.mark.parametrize(
    "method, path, body, headers, status",
    [
        ("POST", "/twin/query_clusters", b'{"query": "Millennials", "top_k": NaN}', {}, 422),
        ("POST", "/twin/query_clusters", b'{"query": "Millennials", "top_k": Infinity}', {}, 422),
        ("POST", "/twin/persona/1/chat", b'{"message": NaN}', {}, 422),
        (
            "POST",
            "/ghostwriter/personas/acc/chat",
            b'{"message": "hi", "llm_config": {"temperature": NaN}}',
            HEADERS,
            400,
        ),
        ("POST", "/ghostwriter/personas/acc/generate", b'{"prompt": "hi", "max_tokens": -Infinity}', HEADERS, 400),
    ],
)
async def test_non_finite_numbers_are_a_validation_error(client, method, path, body, headers, status):
    r = await client.request(method, path, content=body, headers={"content-type": "application/json", **headers})
    assert r.status_code == status, r.text
    detail = r.json()["detail"]
    assert detail and "Traceback" not in str(detail)
