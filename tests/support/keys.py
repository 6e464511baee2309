"""API keys for tests of the registry's roles: one key per named person."""

from __future__ import annotations

import asyncio

from harness import apikeys


async def bearer_headers(runtime, **roles: str) -> dict[str, dict[str, str]]:
    """A key per ``name=role`` (e.g. ``rita="editor", vera="viewer"``), as each person's
    ``Authorization: Bearer`` header; the registry's key cache is dropped so they work now."""
    made = {name: await apikeys.create_key(runtime.pool, name, role)
            for name, role in roles.items()}
    await asyncio.sleep(0)
    runtime.auth.invalidate()
    return {name: {"Authorization": f"Bearer {k}"} for name, k in made.items()}
