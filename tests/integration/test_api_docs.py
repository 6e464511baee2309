"""``/docs`` and ``/redoc`` work on an offline machine: their pages reference no other
host, the assets they load are served by the service itself, and Swagger UI renders in a
browser that may reach nothing but the service."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest

CHROMIUM = "/usr/bin/chromium"
REFS = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']|url:\s*["']([^"']+)["']""")


def _refs(html: str) -> list[str]:
    return [a or b for a, b in REFS.findall(html)]


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_docs_pages_reference_no_other_host(client, page):
    r = await client.get(page)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    refs = _refs(r.text)
    assert refs, r.text
    external = [u for u in refs if urlsplit(u).netloc]
    assert external == [], external
    assert "fonts.googleapis" not in r.text and "cdn.jsdelivr" not in r.text
    for ref in refs:  # every script, stylesheet, icon and the schema is served here
        got = await client.get(ref)
        assert got.status_code == 200, ref
        assert len(got.content) > 100, ref


async def test_gateway_service_docs_are_local_too(db_url):
    import httpx

    from harness.config import Settings
    from services.bootstrap import gateway_service

    app = gateway_service(Settings(database_url=db_url))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://gateway") as c:
        r = await c.get("/docs")
        assert r.status_code == 200
        assert [u for u in _refs(r.text) if urlsplit(u).netloc] == []


@pytest.mark.skipif(not Path(CHROMIUM).exists(),
                    reason="needs Debian's chromium (apt-get install chromium)")
async def test_swagger_ui_renders_with_the_network_cut_off(live_url):
    """Chromium may reach the registry and nothing else (every other request is aborted,
    as on an offline machine): Swagger UI still renders the API's operations."""
    from playwright.async_api import async_playwright

    host = urlsplit(live_url).netloc
    blocked: list[str] = []

    async def only_the_registry(route):
        if urlsplit(route.request.url).netloc == host:
            await route.continue_()
        else:
            blocked.append(route.request.url)
            await route.abort()

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-background-networking", "--disable-component-update"])
        try:
            page = await browser.new_page()
            await page.route("**/*", only_the_registry)
            await page.goto(f"{live_url}/docs")
            title = page.locator(".swagger-ui .info .title")
            await title.wait_for(timeout=60_000)
            assert "harness registry" in await title.inner_text()
            await page.locator(".opblock").first.wait_for(timeout=60_000)
            assert await page.locator(".opblock").count() > 10
        finally:
            await browser.close()
    assert blocked == []
