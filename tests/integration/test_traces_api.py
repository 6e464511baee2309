"""The trace explorer (``GET /traces``, ``GET /traces/{id}``) against real Postgres: each
filter, cursor pages that neither repeat nor skip while traces arrive, masked content only,
viewer access, 404 for an unknown id."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from harness import apikeys
from harness.tracing import PostgresTraceStore
from harness.tracing.record import Trace
from services.gateway.config import GatewaySettings
from tests.support.gateway import serve_gateway
from tests.support.stub_llm import StubLLM

# recent: the store drops day partitions older than the retention
T0 = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=2)
KEY_ID = uuid.UUID("11111111-2222-3333-4444-555555555555")


def trace(i: int, **kw) -> Trace:
    base = dict(kind="chat", model_requested="openai/a", status=200, latency_ms=10.0,
                created_at=T0 + timedelta(minutes=i), source="gateway",
                request={"messages": [{"role": "user", "content": f"question {i}"}]},
                response={"choices": [{"message": {"content": f"answer {i}"}}]})
    base.update(kw)
    return Trace(**base)


@pytest.fixture
async def stored(runtime):
    """Nine traces, one distinguishing value each (index = minutes after T0)."""
    traces = [
        trace(0),
        trace(1, source="runner", run_id="run-1"),
        trace(2, model_requested="smart", model_answered="openai/b"),
        trace(3, application="support-bot"),
        trace(4, prompt_id="p-1", prompt_version=2),
        trace(5, prompt_id="p-1", prompt_version=3),
        trace(6, key_id=KEY_ID, key_name="team-a"),
        trace(7, status=502, error="upstream down", latency_ms=900.0),
        trace(8, cost_usd=0.25, prompt_tokens=100, completion_tokens=20,
              request={"messages": [{"role": "user", "content": "100% off_sale"}]}),
    ]
    await PostgresTraceStore(runtime.pool).write(traces)
    return traces


async def minutes(client, **params) -> list[int]:
    r = await client.get("/traces", params=params)
    assert r.status_code == 200, r.text
    return [int((datetime.fromisoformat(t["created_at"]) - T0).total_seconds() // 60)
            for t in r.json()["items"]]


async def test_each_filter_selects_its_traces(client, stored):
    assert await minutes(client) == [8, 7, 6, 5, 4, 3, 2, 1, 0]  # newest first
    assert await minutes(client, since=(T0 + timedelta(minutes=6)).isoformat()) == [8, 7, 6]
    assert await minutes(client, until=(T0 + timedelta(minutes=2)).isoformat()) == [1, 0]
    assert await minutes(client, source="runner") == [1]
    assert await minutes(client, model="openai/b") == [2]  # the model that answered
    assert await minutes(client, model="smart") == [2]     # or the one asked for
    assert await minutes(client, application="support-bot") == [3]
    assert await minutes(client, prompt_id="p-1") == [5, 4]
    assert await minutes(client, prompt_id="p-1", prompt_version=2) == [4]
    assert await minutes(client, key=str(KEY_ID)) == [6]
    assert await minutes(client, key="team-a") == [6]
    assert await minutes(client, status="error") == [7]
    assert len(await minutes(client, status="ok")) == 8
    assert await minutes(client, min_latency_ms=500) == [7]
    assert await minutes(client, min_cost_usd=0.1) == [8]
    assert await minutes(client, q="QUESTION 3") == [3]   # case-insensitive
    assert await minutes(client, q="answer 5") == [5]     # the response too
    assert await minutes(client, q="100%") == [8]         # literal: % and _ escaped
    assert await minutes(client, q="0%") == [8]
    assert await minutes(client, q="100_") == []  # unescaped, _ would match %
    assert await minutes(client, q="off_sale") == [8]
    item = (await client.get("/traces", params={"min_cost_usd": 0.1})).json()["items"][0]
    assert item["total_tokens"] == 120 and item["cost_usd"] == 0.25
    assert "request" not in item and "response" not in item  # a list carries summaries


@pytest.mark.parametrize(("params", "field"), [
    ({"source": "browser"}, "source"), ({"status": "fine"}, "status"),
    ({"min_latency_ms": "-1"}, "min_latency_ms"), ({"min_cost_usd": "abc"}, "min_cost_usd"),
    ({"prompt_version": "0"}, "prompt_version"), ({"since": "yesterday"}, "since"),
    ({"limit": "501"}, "limit"), ({"cursor": "not-a-cursor"}, "cursor"),
    ({"since": "2026-03-02T00:00:00Z", "until": "2026-03-01T00:00:00Z"}, "until"),
])
async def test_an_invalid_filter_is_a_422_naming_it(client, params, field):
    r = await client.get("/traces", params=params)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    named = {body.get("field")} | {e["field"].split(".")[-1] for e in body.get("errors", [])}
    assert field in named, body


async def test_cursor_pages_neither_repeat_nor_skip_while_traces_arrive(client, runtime):
    store = PostgresTraceStore(runtime.pool)
    now = datetime.now(UTC)
    # 25 traces, several sharing one timestamp: the id breaks the tie
    first = [trace(0, created_at=now - timedelta(seconds=60 - i // 3)) for i in range(25)]
    await store.write(first)
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": 4} | ({"cursor": cursor} if cursor else {})
        body = (await client.get("/traces", params=params)).json()
        seen += [t["id"] for t in body["items"]]
        pages += 1
        # new traffic after every page (now, so newer than every page so far)
        await store.write([trace(0, created_at=datetime.now(UTC)) for _ in range(3)])
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == 7
    assert len(seen) == len(set(seen))                            # no duplicates
    assert set(seen) == {str(t.id) for t in first}                # no gaps
    order = [(t.created_at, str(t.id)) for t in first]
    assert seen == [i for _, i in sorted(order, reverse=True)]    # recorded time, then id
    # the newer traffic is on a fresh first page
    assert len((await client.get("/traces", params={"limit": 500})).json()["items"]) == 46


async def test_whole_trace_is_the_masked_form_with_its_prompt_version(runtime):
    async with StubLLM() as stub:
        settings = GatewaySettings(deployments={"*": {"api_base": stub.base_url,
                                                      "api_key": "sk-test"}},
                                   trace_flush_s=0.05)
        async with serve_gateway(runtime, settings) as gw:
            key, key_id = await gw.key_with_id("masked-key")  # default policy: mask
            stub.script("primary", "I will write to hong@example.com")
            await gw.sdk(key).chat.completions.create(
                model="openai/primary",
                messages=[{"role": "user", "content": "mail me at hong@example.com"}])
            await gw.gateway.traces.flush()
            async with gw.http() as h:
                items = (await h.get("/traces", params={"key": "masked-key"})).json()["items"]
                assert [i["key_id"] for i in items] == [key_id]
                assert (await h.get("/traces", params={"q": "hong@example"})).json()[
                    "items"] == []  # the raw text is nowhere to be found
                masked = (await h.get("/traces", params={"q": "[EMAIL]"})).json()["items"]
                assert [i["id"] for i in masked] == [items[0]["id"]]
                r = await h.get(f"/traces/{items[0]['id']}")
    assert r.status_code == 200
    t = r.json()
    assert "hong@example.com" not in r.text and "[EMAIL]" in str(t["request"])
    assert "[EMAIL]" in str(t["response"])
    assert t["status"] == 200 and t["latency_ms"] >= 0 and t["total_tokens"] > 0
    assert t["prompt"] is None  # a plain model call used no prompt version


async def test_a_trace_shows_the_prompt_version_it_used(client, runtime):
    r = await client.post("/prompts", json={"name": "greeter", "content": "Hi {{name}}"})
    assert r.status_code == 201, r.text
    prompt_id = r.json()["id"]
    t = trace(0, prompt_id=prompt_id, prompt_version=1, prompt_tokens=3, completion_tokens=4)
    await PostgresTraceStore(runtime.pool).write([t])
    body = (await client.get(f"/traces/{t.id}")).json()
    assert body["prompt"] == {"id": prompt_id, "name": "greeter", "version": 1,
                              "references": []}
    assert body["request"] == t.request and body["total_tokens"] == 7


async def test_viewers_read_and_no_key_is_401_once_keys_exist(client, runtime, stored):
    viewer = await apikeys.create_key(runtime.pool, "vera", "viewer")
    await asyncio.sleep(0)
    runtime.auth.invalidate()
    assert (await client.get("/traces")).status_code == 401
    assert (await client.get(f"/traces/{stored[0].id}")).status_code == 401
    auth = {"Authorization": f"Bearer {viewer}"}
    r = await client.get("/traces", headers=auth)
    assert r.status_code == 200 and len(r.json()["items"]) == 9
    r = await client.get(f"/traces/{stored[0].id}", headers=auth)
    assert r.status_code == 200 and r.json()["id"] == str(stored[0].id)


async def test_an_unknown_trace_is_a_404(client, stored):
    r = await client.get(f"/traces/{uuid.uuid4()}")
    assert r.status_code == 404
    assert r.json()["type"] == "urn:harness:problem:not-found"
