"""The downstream client against the real registry: cache, ETag revalidation, prompts,
errors and fallbacks, the sync flavour, and event handling (SSE and Pub/Sub messages)."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from pathlib import Path

import httpx
import jsonschema
import pytest

from harness.client import (
    AsyncHarnessClient,
    HarnessClient,
    NotFound,
    PromptVersion,
    Resolved,
    Unavailable,
    decode_pubsub_message,
)
from harness.templating import MissingVariablesError
from services.registry.app import create_app

ROOT = Path(__file__).resolve().parents[2]


async def _prompt(client, name="greet", content="Hello {{ name }}"):
    r = await client.post("/prompts", json={"name": name, "content": content})
    assert r.status_code == 201, r.text
    return r.json()


async def _app(client, name, prompt_id, **extra):
    r = await client.post("/applications", json={"name": name, "model_id": "echo",
                                                 "prompt_id": prompt_id, **extra})
    assert r.status_code == 201, r.text
    return r.json()


class Counting:
    """ASGI wrapper recording (method, path, status) of every response the registry sends."""

    def __init__(self, app) -> None:
        self.app = app
        self.seen: list[tuple[str, str, int]] = []

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def counting_send(message):
            if message["type"] == "http.response.start":
                self.seen.append((scope["method"], scope["path"], message["status"]))
            await send(message)

        await self.app(scope, receive, counting_send)

    def statuses(self, suffix: str) -> list[int]:
        return [s for _, path, s in self.seen if path.endswith(suffix)]


def _closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"  # nothing listens there any more


async def test_resolve_caches_and_revalidates_with_etag(runtime, client):
    p = await _prompt(client)
    a = await _app(client, "support-bot", p["id"], top_p=0.9, fallback_models=["m2"])
    counter = Counting(create_app(runtime=runtime))
    async with AsyncHarnessClient("http://registry", refresh="none", ttl_s=60,
                                  transport=httpx.ASGITransport(app=counter)) as hc:
        r1 = await hc.resolve("support-bot")
        assert isinstance(r1, Resolved)
        assert (r1.model, r1.version, r1.content, r1.variables) == (
            "echo", 1, "Hello {{ name }}", ["name"])
        assert r1.params == {"temperature": 0.7, "max_tokens": 1024, "top_p": 0.9}
        assert r1.fallback_models == ["m2"] and r1.prompt_id == p["id"]
        assert r1.application_id == a["id"] and r1.prompt_name == "greet"
        assert r1.etag and r1.fetched_at is not None
        assert (r1.source, r1.stale) == ("registry", False)
        assert r1.render(name="Ada") == [{"role": "user", "content": "Hello Ada"}]
        with pytest.raises(MissingVariablesError):
            r1.render()
        # a name is looked up once; then only the resolved endpoint is asked
        assert counter.seen == [("GET", "/applications", 200),
                                ("GET", f"/applications/{a['id']}/resolved", 200)]

        r2 = await hc.resolve("support-bot")  # fresh: memory, no request
        assert r2.source == "memory" and r2.etag == r1.etag and len(counter.seen) == 2

        hc.ttl_s = 0  # every call revalidates
        r3 = await hc.resolve("Support-Bot")  # names are case-insensitive
        assert (r3.source, r3.version, r3.etag) == ("registry", 1, r1.etag)
        assert counter.statuses("/resolved") == [200, 304]
        assert hc.stats.not_modified == 1

        await client.post(f"/prompts/{p['id']}/versions",
                          json={"content": "Hi {{ name }}!", "activate": True})
        r4 = await hc.resolve("support-bot")
        assert (r4.version, r4.source) == (2, "registry") and r4.etag != r1.etag
        assert r4.render(name="Bo") == [{"role": "user", "content": "Hi Bo!"}]
        r5 = await hc.resolve(a["id"])  # by id: no name lookup
        assert r5.version == 2
        assert counter.statuses("/resolved") == [200, 304, 200, 200]
        assert counter.statuses("/applications") == [200]
        assert (hc.stats.fetched, hc.stats.not_modified, hc.stats.memory_hits) == (3, 1, 1)


async def test_get_prompt_active_and_pinned_versions(runtime, client):
    chat = [{"role": "system", "content": "Be brief."},
            {"role": "user", "content": "{{ question }}"}]
    p = await _prompt(client, "qa", chat)
    await client.post(f"/prompts/{p['id']}/versions", json={"content": "v2 {{ question }}"})
    counter = Counting(create_app(runtime=runtime))
    async with AsyncHarnessClient("http://registry", refresh="none", ttl_s=0,
                                  transport=httpx.ASGITransport(app=counter)) as hc:
        active = await hc.get_prompt("qa")
        assert isinstance(active, PromptVersion)
        assert (active.version, active.is_active, active.prompt_name) == (1, True, "qa")
        assert active.render(question="Why?") == [
            {"role": "system", "content": "Be brief."}, {"role": "user", "content": "Why?"}]
        v2 = await hc.get_prompt("qa", 2)
        assert (v2.version, v2.is_active, v2.content) == (2, False, "v2 {{ question }}")
        n = len(counter.seen)
        again = await hc.get_prompt("qa", 2)  # versions are immutable: never refetched
        assert again.source == "memory" and len(counter.seen) == n
        by_id = await hc.get_prompt(p["id"])
        assert by_id.version == 1 and by_id.prompt_name == "qa"
        with pytest.raises(NotFound):
            await hc.get_prompt("qa", 9)
        with pytest.raises(NotFound):
            await hc.get_prompt("no-such-prompt")
        fb = await hc.get_prompt("no-such-prompt", fallback="Default {{ x }}")
        assert (fb.source, fb.stale, fb.variables) == ("fallback", True, ["x"])
        assert fb.render(x=1) == [{"role": "user", "content": "Default 1"}]


async def test_unknown_app_raises_not_found_or_serves_fallback(runtime, client):
    async with AsyncHarnessClient("http://registry", refresh="none",
                                  transport=httpx.ASGITransport(
                                      app=create_app(runtime=runtime))) as hc:
        with pytest.raises(NotFound) as err:
            await hc.resolve("nobody")
        assert err.value.status == 404
        with pytest.raises(NotFound):
            await hc.resolve("00000000-0000-4000-8000-000000000000")
        fb = await hc.resolve("nobody", fallback={"model": "echo", "content": "Hi {{ who }}",
                                                  "params": {"temperature": 0}})
        assert (fb.source, fb.model, fb.application, fb.params) == (
            "fallback", "echo", "nobody", {"temperature": 0})
        assert fb.render(who="you") == [{"role": "user", "content": "Hi you"}]
        assert hc.stats.served_fallback == 1


async def test_never_seen_and_registry_unreachable():
    url = _closed_port_url()
    async with AsyncHarnessClient(url, refresh="none", timeout_s=1) as hc:
        fb = await hc.resolve("support-bot",
                              fallback=Resolved(model="openai/gpt-4o-mini", content="Hi"))
        assert (fb.source, fb.stale, fb.model, fb.content) == (
            "fallback", True, "openai/gpt-4o-mini", "Hi")
        pv = await hc.get_prompt("greet", fallback=[{"role": "user", "content": "Hi {{ n }}"}])
        assert pv.source == "fallback" and pv.variables == ["n"]
        with pytest.raises(Unavailable) as err:
            await hc.resolve("support-bot")
        assert "unreachable" in str(err.value)
        with pytest.raises(Unavailable):
            await hc.get_prompt("greet", 3)
        with pytest.raises(ValueError):  # a fallback for an application needs a model
            await hc.resolve("support-bot", fallback={"content": "Hi"})


async def test_events_invalidate_and_refetch_affected_entries(runtime, client):
    """The same handler serves SSE and Pub/Sub; a Pub/Sub message decodes to the envelope,
    and a redelivered event is harmless."""
    p = await _prompt(client)
    other = await _prompt(client, "other", "Other")
    await _app(client, "bot", p["id"])
    await _app(client, "bot2", other["id"])
    transport = httpx.ASGITransport(app=create_app(runtime=runtime))
    async with AsyncHarnessClient("http://registry", refresh="none", ttl_s=3600,
                                  transport=transport) as hc:
        changed: list = []
        hc.on_change(changed.append)
        await hc.resolve("bot")
        await hc.resolve("bot2")
        await hc.get_prompt("greet")
        await hc.get_prompt("greet", 1)
        await client.post(f"/prompts/{p['id']}/versions", json={"content": "v2",
                                                                "activate": True})
        events = (await client.get("/events", params={"after": 0, "limit": 100})).json()
        activated = [e for e in events["items"] if e["type"] == "PromptVersionActivated"][-1]

        # a Pub/Sub message of the registry-events topic: envelope JSON + attributes
        attributes = {"type": activated["type"], "schema_version": "1",
                      "event_id": activated["event_id"], "stream_id": activated["stream_id"]}
        envelope = decode_pubsub_message(json.dumps(activated).encode(), attributes)
        assert envelope["data"]["version"] == 2
        # also accepted: a body that is only the event data
        bare = decode_pubsub_message(json.dumps(activated["data"]).encode(), attributes)
        assert (bare["type"], bare["data"]["prompt_id"]) == ("PromptVersionActivated", p["id"])

        keys = hc.handle_event(envelope)
        assert sorted(keys) == ["app:bot", "prompt:greet@active"]  # not bot2, not v1 pinned
        hc.handle_event(bare)  # redelivered: only another revalidation
        for _ in range(3000):
            if hc.cached("bot").version == 2 and hc.cached("greet", kind="prompt").version == 2:
                break
            await asyncio.sleep(0.01)
        assert hc.cached("bot").version == 2
        assert hc.cached("greet", kind="prompt").version == 2
        assert hc.cached("greet", kind="prompt", version=1).version == 1
        assert {type(v).__name__ for v in changed} == {"Resolved", "PromptVersion"}
        assert len(changed) == 2  # the redelivery changed nothing

        # an application update reaches entries resolved by name and by id
        a2 = await hc.resolve("bot2")
        r = await client.patch(f"/applications/{a2.application_id}", json={"model_id": "m9"})
        assert r.status_code == 200
        ev = (await client.get("/events", params={"after": activated["global_position"]}
                               )).json()["items"][-1]
        assert ev["type"] == "ApplicationUpdated"
        assert hc.handle_event(ev) == ["app:bot2"]
        for _ in range(3000):
            if hc.cached("bot2").model == "m9":
                break
            await asyncio.sleep(0.01)
        assert hc.cached("bot2").model == "m9"


async def test_sync_client_follows_activation(client, live_url):
    """``HarnessClient`` (sync, background thread) against a real server over HTTP/SSE."""
    p = await _prompt(client)
    await _app(client, "bot", p["id"])
    hc = await asyncio.to_thread(HarnessClient, live_url, ttl_s=3600)
    try:
        first = await asyncio.to_thread(hc.resolve, "bot")
        assert first.version == 1
        assert await asyncio.to_thread(hc.wait_connected, 5)
        seen = threading.Event()
        hc.on_change(lambda value: seen.set() if value.version == 2 else None)
        t0 = time.perf_counter()
        await client.post(f"/prompts/{p['id']}/versions", json={"content": "v2",
                                                                "activate": True})
        assert await asyncio.to_thread(seen.wait, 60)  # a hang guard
        latency = time.perf_counter() - t0
        assert hc.cached("bot").version == 2
        for _ in range(3000):  # let the refetch of the second event (a 304) finish
            if not hc.async_client._tasks:
                break
            await asyncio.sleep(0.01)
        requests = hc.stats.requests
        again = await asyncio.to_thread(hc.resolve, "bot")
        assert (again.version, again.source) == (2, "memory") and hc.stats.requests == requests
        print(f"sync client: activation reached the cache in {latency * 1000:.0f} ms")
    finally:
        await asyncio.to_thread(hc.close)
    assert not hc._thread.is_alive()


async def test_delivered_events_match_the_published_schemas(client):
    """What the registry actually sends validates against docs/events/ (the contract)."""
    p = await _prompt(client, "greet", [{"role": "user", "content": "Hi {{ n }}"}])
    await client.patch(f"/prompts/{p['id']}", json={"description": "d"})
    await client.post(f"/prompts/{p['id']}/versions", json={"content": "v2", "activate": True})
    a = await _app(client, "bot", p["id"], top_p=0.5)
    await client.patch(f"/applications/{a['id']}", json={"temperature": 0.1})
    await client.post("/datasets", json={"name": "ds"})
    items = (await client.get("/events", params={"after": 0, "limit": 1000})).json()["items"]
    seen = set()
    for ev in items:
        path = ROOT / "docs" / "events" / f"{ev['type']}.v{ev['schema_version']}.schema.json"
        jsonschema.validate(ev, json.loads(path.read_text()))
        seen.add(ev["type"])
    assert {"PromptCreated", "PromptUpdated", "PromptVersionCreated", "PromptVersionActivated",
            "ApplicationCreated", "ApplicationUpdated"} <= seen


async def test_sse_framing():
    from harness.client import parse_sse

    async def lines():
        for line in [": ping - 2025-01-01", "id: 7", "event: PromptVersionActivated",
                     'data: {"type": "PromptVersionActivated",', 'data:  "data": {}}', "",
                     "", "retry: 100", "data:no-space", "id: 8", "event: x"]:
            yield line

    frames = [f async for f in parse_sse(lines())]
    assert [(f.id, f.event, f.data) for f in frames] == [
        ("7", "PromptVersionActivated", '{"type": "PromptVersionActivated",\n "data": {}}'),
        ("8", "x", "no-space")]
    assert frames[0].envelope() == {"type": "PromptVersionActivated", "data": {},
                                    "global_position": 7}
