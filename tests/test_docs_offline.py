"""/docs and /redoc work without network: every asset the pages load comes from the service."""

from __future__ import annotations

import re

import pytest

URL_ATTRIBUTE = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']|url\(\s*['"]?([^'")]+)""", re.IGNORECASE)
JS_URL = re.compile(r"""(?:url|spec-url)\s*[:=]\s*['"]([^'"]+)['"]""", re.IGNORECASE)


def _urls(html: str) -> list[str]:
    found = [a or b for a, b in URL_ATTRIBUTE.findall(html)] + JS_URL.findall(html)
    return [u for u in found if u]


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_docs_pages_load_only_local_assets(client, page):
    r = await client.get(page)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    html = r.text
    assert not re.search(r"(?:https?:)?//[\w.-]+\.[a-z]{2,}", html, re.IGNORECASE), "the page names a remote host"
    urls = _urls(html)
    assert urls, "no asset found on the page"
    for url in urls:
        assert url.startswith("/"), url
        asset = await client.get(url)
        assert asset.status_code == 200, url
        assert asset.content, url


async def test_swagger_ui_loads_the_service_openapi_and_its_oauth2_redirect(client):
    html = (await client.get("/docs")).text
    assert "'/openapi.json'" in html or '"/openapi.json"' in html
    assert '"validatorUrl": null' in html
    assert (await client.get("/docs/oauth2-redirect")).status_code == 200
    spec = (await client.get("/openapi.json")).json()
    assert "/docs" not in spec["paths"] and "/docs-assets" not in str(spec["paths"])
    js = await client.get("/docs-assets/swagger-ui-bundle.js")
    assert "javascript" in js.headers["content-type"] and len(js.content) > 100_000
