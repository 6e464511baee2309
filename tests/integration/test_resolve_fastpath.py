"""The resolve fast path (services/registry/resolve_fastpath.py) answers a cached resolve
exactly as the route does, and leaves everything else to the route."""

from __future__ import annotations

import asyncio

import pytest

from harness import apikeys

COMPARED = ("etag", "cache-control", "content-type", "content-length")


@pytest.fixture
async def app_id(client):
    p = (await client.post("/prompts", json={"name": "p", "content": "Hi {{ name }}"})).json()
    r = await client.post("/applications", json={"name": "bot", "model_id": "echo",
                                                  "prompt_id": p["id"]})
    return r.json()["id"]


@pytest.fixture
def loads(runtime, monkeypatch):
    """How many requests reached the route (it loads through ``get_or_load``; the fast
    path only reads the cache)."""
    calls = []
    original = runtime.resolve_cache.get_or_load

    async def counting(key, load):
        calls.append(key)
        return await original(key, load)

    monkeypatch.setattr(runtime.resolve_cache, "get_or_load", counting)
    return calls


def _same(a, b):
    assert a.status_code == b.status_code
    assert a.content == b.content
    assert {h: a.headers.get(h) for h in COMPARED} == {h: b.headers.get(h) for h in COMPARED}
    assert "x-correlation-id" in a.headers and "x-correlation-id" in b.headers


async def test_a_cached_resolve_is_answered_like_the_route(client, app_id, loads):
    url = f"/applications/{app_id}/resolved"
    by_route = await client.get(url)
    fast = await client.get(url)
    assert loads == [app_id]  # the second never reached the route
    _same(fast, by_route)
    assert fast.json()["version"] == 1

    etag = fast.headers["etag"]
    unchanged = await client.get(url, headers={"If-None-Match": etag})
    assert unchanged.status_code == 304 and unchanged.content == b""
    assert unchanged.headers["etag"] == etag and loads == [app_id]

    # a new active version empties the cache: the route answers again, then the fast path
    p = (await client.get(f"/applications/{app_id}")).json()["prompt_id"]
    await client.post(f"/prompts/{p}/versions", json={"content": "Yo", "activate": True})
    again = await client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 200 and again.json()["version"] == 2
    assert len(loads) == 2
    # the commit empties the cache at once; the database's NOTIFY (another connection)
    # empties it once more whenever it lands, maybe after ``again``: then the route
    # answers once more. Either way the fast path answers next, and the same.
    for _ in range(100):  # a hang guard
        before = len(loads)
        cached = await client.get(url)
        if len(loads) == before:
            break
        await asyncio.sleep(0.05)
    assert len(loads) == before and len(loads) in (2, 3)
    _same(cached, again)


async def test_what_the_fast_path_leaves_to_the_route(client, app_id, loads):
    url = f"/applications/{app_id}/resolved"
    await client.get(url)
    assert (await client.get("/applications/bot/resolved")).json()["application_id"] == app_id
    assert (await client.get(url + "?as_of=2000-01-01T00:00:00Z")).status_code == 404
    assert (await client.post(url, json={})).status_code == 405
    assert len(loads) == 2  # the name (as_of does not use the cache; a POST is refused)


async def test_keys_are_checked_the_same_way(client, runtime, app_id, loads):
    viewer = await apikeys.create_key(runtime.pool, "vera", "viewer")
    scraper = await apikeys.create_key(runtime.pool, "prom", "metrics")
    runtime.auth.invalidate()
    url = f"/applications/{app_id}/resolved"
    first = await client.get(url, headers={"Authorization": f"Bearer {viewer}"})
    assert first.status_code == 200 and len(loads) == 1
    fast = await client.get(url, headers={"X-API-Key": viewer})
    assert len(loads) == 1
    _same(fast, first)
    # errors come from the route, in its problem+json
    none = await client.get(url)
    assert none.status_code == 401 and none.headers["www-authenticate"] == "Bearer"
    assert none.json()["type"].endswith("unauthorized")
    bad = await client.get(url, headers={"X-API-Key": "hk_not-a-key"})
    assert bad.status_code == 401
    low = await client.get(url, headers={"X-API-Key": scraper})
    assert low.status_code == 403 and low.json()["type"].endswith("forbidden")
    assert len(loads) == 1  # refused before the route loaded anything
