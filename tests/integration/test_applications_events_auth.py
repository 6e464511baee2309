import asyncio
import json

import httpx

from harness import apikeys
from services.registry.app import create_app


async def prompt(client, name="p", content="Hi {{ name }}"):
    return (await client.post("/prompts", json={"name": name, "content": content})).json()


async def test_application_crud_and_resolve_follows_activation(client):
    p = await prompt(client)
    r = await client.post("/applications", json={"name": "bot", "model_id": "echo",
                                                  "prompt_id": p["id"], "top_p": 0.9,
                                                  "fallback_models": ["openai/gpt-4o-mini"]})
    assert r.status_code == 201, r.text
    a = r.json()
    # left out: unset (the version's config, else the defaults, apply in resolved)
    assert (a["temperature"], a["max_tokens"], a["top_p"]) == (None, None, 0.9)
    res = await client.get(f"/applications/{a['id']}/resolved")
    body = res.json()
    assert (body["model"], body["version"], body["content"]) == ("echo", 1, "Hi {{ name }}")
    assert body["params"] == {"temperature": 0.7, "max_tokens": 1024, "top_p": 0.9}
    assert body["fallback_models"] == ["openai/gpt-4o-mini"] and body["variables"] == ["name"]
    etag = res.headers["etag"]
    assert (await client.get(f"/applications/{a['id']}/resolved",
                             headers={"If-None-Match": etag})).status_code == 304
    await client.post(f"/prompts/{p['id']}/versions", json={"content": "Yo", "activate": True})
    res2 = await client.get(f"/applications/{a['id']}/resolved", headers={"If-None-Match": etag})
    assert res2.status_code == 200 and res2.json()["version"] == 2
    r = await client.patch(f"/applications/{a['id']}", json={"temperature": 0, "model_id": "m2"})
    assert (r.json()["temperature"], r.json()["model_id"]) == (0, "m2")
    assert (await client.get(f"/applications/{a['id']}/resolved")).json()["model"] == "m2"
    lst = (await client.get("/applications")).json()
    assert lst["total"] == 1 and lst["items"][0]["name"] == "bot"


async def test_application_errors(client):
    p = await prompt(client)
    r = await client.post("/applications", json={"name": "bot", "model_id": "echo",
                                                  "prompt_id": "missing"})
    assert r.status_code == 422 and r.json()["field"] == "prompt_id"
    r = await client.post("/applications", json={"name": "bot", "model_id": "echo",
                                                  "prompt_id": p["id"], "temperature": 3})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "temperature"
    await client.post("/applications", json={"name": "bot", "model_id": "e", "prompt_id": p["id"]})
    r = await client.post("/applications", json={"name": "Bot", "model_id": "e",
                                                  "prompt_id": p["id"]})
    assert r.status_code == 409
    assert (await client.get("/applications/nope")).status_code == 404
    assert (await client.get("/applications/nope/resolved")).status_code == 404
    r = await client.patch("/applications/nope", json={"temperature": 0.1})
    assert r.status_code == 404
    a = (await client.get("/applications")).json()["items"][0]
    r = await client.patch(f"/applications/{a['id']}", json={"id": "x"})
    assert r.status_code == 422


async def test_events_paging_and_sse(client, live_url):
    p = await prompt(client)
    page = (await client.get("/events", params={"after": 0, "limit": 2})).json()
    assert [e["type"] for e in page["items"]] == ["PromptCreated", "PromptVersionCreated"]
    rest = (await client.get("/events", params={"after": page["next_after"]})).json()
    assert [e["type"] for e in rest["items"]] == ["PromptVersionActivated"]
    assert rest["items"][0]["stream_id"] == f"prompt-{p['id']}"

    received: list[dict] = []

    async def listen():
        async with httpx.AsyncClient(base_url=live_url, timeout=10) as live, live.stream(
                "GET", "/events/stream", params={"after": rest["next_after"]}) as resp:
            assert resp.headers["content-type"].startswith("text/event-stream")
            event_id = None
            async for line in resp.aiter_lines():
                if line.startswith("id:"):
                    event_id = int(line[3:].strip())
                if line.startswith("data:"):
                    received.append({"id": event_id, **json.loads(line[5:].strip())})
                    if len(received) == 2:
                        return

    task = asyncio.create_task(listen())
    await asyncio.sleep(0.2)
    await client.post(f"/prompts/{p['id']}/versions", json={"content": "v2", "activate": True})
    await asyncio.wait_for(task, 10)
    assert [e["type"] for e in received] == ["PromptVersionCreated", "PromptVersionActivated"]
    assert received[0]["id"] == received[0]["global_position"] > rest["next_after"]


async def test_keys_roles_and_actor(runtime):
    viewer = await apikeys.create_key(runtime.pool, "vera", "viewer")
    editor = await apikeys.create_key(runtime.pool, "eddie", "editor")
    app = create_app(runtime=runtime)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://r") as c:
        r = await c.get("/prompts")
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
        assert (await c.get("/prompts", headers={"X-API-Key": "hk_wrong"})).status_code == 401
        assert (await c.get("/prompts",
                            headers={"Authorization": f"Bearer {viewer}"})).status_code == 200
        r = await c.post("/prompts", json={"name": "x", "content": "y"},
                         headers={"Authorization": f"Bearer {viewer}"})
        assert r.status_code == 403 and r.json()["type"] == "urn:harness:problem:forbidden"
        r = await c.post("/prompts", json={"name": "x", "content": "y"},
                         headers={"Authorization": f"Bearer {editor}", "X-Actor": "spoof"})
        assert r.status_code == 201
        h = (await c.get(f"/prompts/{r.json()['id']}/history",
                         headers={"X-API-Key": editor})).json()["items"]
        assert {e["actor"] for e in h} == {"eddie"}
        assert (await c.get("/healthz")).status_code == 200
    stored = await runtime.pool.fetchval("SELECT count(*) FROM api_keys WHERE key_hash = $1",
                                         viewer)
    assert stored == 0  # only hashes are stored


async def test_resolve_cache_is_invalidated_by_another_process_write(client, db_url):
    """Two registry instances on one database: B's cached answer follows A's activation."""
    from services.registry.runtime import Runtime

    p = await prompt(client)
    a = (await client.post("/applications", json={"name": "bot", "model_id": "echo",
                                                  "prompt_id": p["id"]})).json()
    other = await Runtime.start(db_url, relay=False)
    try:
        app_b = create_app(runtime=other)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app_b),
                                     base_url="http://b") as b:
            url = f"/applications/{a['id']}/resolved"
            assert (await b.get(url)).json()["version"] == 1
            assert (await b.get(url)).json()["version"] == 1  # now served from B's cache
            await client.post(f"/prompts/{p['id']}/versions", json={"content": "v2",
                                                                    "activate": True})
            for _ in range(3000):
                if (await b.get(url)).json()["version"] == 2:
                    break
                await asyncio.sleep(0.01)
            assert (await b.get(url)).json()["version"] == 2
            assert other.resolve_cache.generation >= 1  # invalidated by NOTIFY, not the TTL
    finally:
        await other.stop()


async def test_bootstrap_key_hash_is_ensured_once(pool):
    import hashlib

    key = "hk_services_key_from_terraform"
    digest = hashlib.sha256(key.encode()).hexdigest()
    assert await apikeys.ensure_key_hash(pool, "harness-services", "editor", digest)
    assert not await apikeys.ensure_key_hash(pool, "harness-services", "editor", digest)
    owner = await apikeys.lookup(pool, key)
    assert (owner.name, owner.role) == ("harness-services", "editor")
    import pytest

    with pytest.raises(ValueError):
        await apikeys.ensure_key_hash(pool, "x", "editor", "not-a-hash")


async def test_applications_are_reached_by_name_or_id(client):
    p = await prompt(client)
    a = (await client.post("/applications", json={"name": "Support-Bot", "model_id": "echo",
                                                  "prompt_id": p["id"]})).json()
    by_id = await client.get(f"/applications/{a['id']}/resolved")
    for ref in ("Support-Bot", "support-bot"):
        by_name = await client.get(f"/applications/{ref}/resolved")
        assert by_name.status_code == 200, by_name.text
        assert by_name.json() == by_id.json()
        assert by_name.headers["etag"] == by_id.headers["etag"]
        again = await client.get(f"/applications/{ref}/resolved",
                                 headers={"If-None-Match": by_id.headers["etag"]})
        assert again.status_code == 304
        assert (await client.get(f"/applications/{ref}")).json()["id"] == a["id"]
    as_of = (await client.get("/applications/support-bot/resolved",
                              params={"as_of": "2999-01-01T00:00:00Z"})).json()
    assert as_of["application_id"] == a["id"] and as_of["version"] == 1
    r = await client.patch("/applications/support-bot", json={"temperature": 0.2})
    assert r.status_code == 200 and r.json()["temperature"] == 0.2
    r = await client.get("/applications/nobody/resolved")
    assert r.status_code == 404 and "nobody" in r.json()["detail"]
