"""Helpers for the studio's tests: its pages under Streamlit's AppTest, pointed at a real
registry over HTTP (the ``live_url`` / ``live_stack_url`` fixtures)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from streamlit.testing.v1 import AppTest

STUDIO = Path(__file__).resolve().parents[2] / "services" / "studio"


def point_studio_at(monkeypatch, url: str) -> None:
    """Point the studio's pages at the registry ``url`` (``HARNESS_URL``), without an API key
    or a gateway URL from the environment."""
    monkeypatch.setenv("HARNESS_URL", url)
    monkeypatch.delenv("HARNESS_API_KEY", raising=False)
    monkeypatch.delenv("HARNESS_GATEWAY_URL", raising=False)


def page(name: str, **query: str) -> AppTest:
    """One page script (``prompts``, ``runs``, ...) with ``?key=value`` query params."""
    at = AppTest.from_file(str(STUDIO / "screens" / f"{name}.py"), default_timeout=60)
    for k, v in query.items():
        at.query_params[k] = v
    return at


async def run(at: AppTest) -> AppTest:
    """Run the script off the event loop (the registry under test serves from it) and fail
    on any uncaught exception: pages show errors, they never raise."""
    await asyncio.to_thread(at.run)
    assert not at.exception, [e.value for e in at.exception]
    return at


def texts(at: AppTest) -> str:
    """Every message, markdown, caption and title on the page, as one string."""
    parts = []
    for kind in ("title", "subheader", "markdown", "caption", "success", "error", "warning",
                 "info", "code"):
        parts += [str(e.value) for e in getattr(at, kind)]
    return "\n".join(parts)


async def wait_run(client, run_id: str, timeout: float = 60) -> dict:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        run = (await client.get(f"/runs/{run_id}")).json()
        if run["status"] not in ("queued", "running"):
            return run
        assert asyncio.get_running_loop().time() < deadline, run
        await asyncio.sleep(0.05)
