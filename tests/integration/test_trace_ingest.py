"""A worker without a database (the runner on Cloud Run) traces its LLM calls through the
registry's ``POST /traces``: batched off the call path, masked, stored like the gateway's."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import httpx
import pytest

from harness import apikeys
from harness.llm import LLMClient, LLMRequest
from harness.tracing import HttpTraceStore, LLMCallTracer, TraceWriter
from services.registry.app import create_app
from services.registry.trace_ingest import trace_ingest_router
from tests.support.serving import serve_app
from tests.support.stub_llm import StubLLM


@pytest.fixture
async def registry_url(runtime):
    app = create_app(runtime=runtime, extra_routers=[trace_ingest_router()])
    async with serve_app(app) as url:
        yield url


async def test_runner_calls_are_posted_masked_and_stored(registry_url, runtime):
    secret = await apikeys.create_key(runtime.pool, "harness-services", "editor")
    writer = TraceWriter(HttpTraceStore(registry_url, secret), flush_s=0.05)
    llm = LLMClient(observers=[LLMCallTracer(writer)], cache=False)
    async with StubLLM() as stub:
        stub.reply("m", "write to kim@example.com")
        for i in range(3):
            await llm.complete(LLMRequest(
                model="openai/m", messages=[{"role": "user", "content": "call 010-1234-5678"}],
                params={"api_base": stub.base_url, "api_key": "sk-test"}, max_retries=0,
                labels={"run_id": "run-7", "prompt_id": "p-1", "prompt_version": i + 1}))
    await writer.flush()
    await writer.stop()
    rows = await runtime.pool.fetch("SELECT * FROM gateway_traces ORDER BY prompt_version")
    assert [r["prompt_version"] for r in rows] == [1, 2, 3]
    assert {(r["source"], r["run_id"], r["model_answered"]) for r in rows} == {
        ("runner", "run-7", "openai/m")}
    stored = " ".join(r[0] for r in await runtime.pool.fetch(
        "SELECT request::text || response::text FROM gateway_traces"))
    assert "010-1234-5678" not in stored and "kim@example.com" not in stored
    assert "[PHONE]" in stored and "sk-test" not in stored


async def test_ingest_needs_an_editor_key_and_a_valid_batch(registry_url, runtime):
    secret = await apikeys.create_key(runtime.pool, "svc", "editor")
    viewer = await apikeys.create_key(runtime.pool, "v", "viewer")
    one = {"id": str(uuid.uuid4()), "created_at": datetime.now(UTC).isoformat(),
           "source": "runner", "kind": "chat", "model_requested": "m", "status": 200,
           "latency_ms": 3.5}
    async with httpx.AsyncClient(timeout=60, base_url=registry_url) as h:
        r = await h.post("/traces", json={"traces": [one]})
        assert r.status_code == 401
        r = await h.post("/traces", json={"traces": [one]},
                         headers={"Authorization": f"Bearer {viewer}"})
        assert r.status_code == 403
        bad = [one, {**one, "id": str(uuid.uuid4()), "status": 42}]
        r = await h.post("/traces", json={"traces": bad},
                         headers={"Authorization": f"Bearer {secret}"})
        assert r.status_code == 422 and "status" in r.text
        assert await runtime.pool.fetchval("SELECT count(*) FROM gateway_traces") == 0
        r = await h.post("/traces", json={"traces": [one]},
                         headers={"Authorization": f"Bearer {secret}"})
        assert r.status_code == 204
    assert await runtime.pool.fetchval("SELECT latency_ms FROM gateway_traces") == 3.5
