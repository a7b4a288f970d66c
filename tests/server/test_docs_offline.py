"""/docs and /redoc work without network: every asset the pages load comes from the service."""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess

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


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.mark.skipif(CHROMIUM is None, reason="no headless Chromium on this machine")
@pytest.mark.parametrize(("page", "rendered"), [("/docs", 'class="opblock'), ("/redoc", "api-content")])
async def test_docs_render_in_a_headless_browser(live_app, tmp_path, page, rendered):
    """The pages render from the service alone (this machine has no route to a CDN)."""
    assert CHROMIUM is not None
    with live_app() as server:
        result = await asyncio.to_thread(
            subprocess.run,
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                f"--user-data-dir={tmp_path}",
                "--virtual-time-budget=15000",
                "--dump-dom",
                f"{server.url}{page}",
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert rendered in result.stdout and "Persona service" in result.stdout
