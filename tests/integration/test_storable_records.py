"""No record is lost because of another: traces and run results with NUL or lone
surrogates are stored (made storable: U+FFFD), and a row that still cannot be stored is
dropped (traces, counted) or recorded as its own error (run results), never taking its
batch or its run with it."""

from __future__ import annotations

import json

import pytest

from harness.storable import REPLACEMENT
from harness.tracing import Trace, TraceWriter
from services.gateway.config import GatewaySettings
from tests.support.gateway import serve_gateway
from tests.support.runs import seed, wait_run
from tests.support.stub_llm import StubLLM

LONE = json.loads('"\\ud83d"')  # half a surrogate pair, as json.loads gives it


def _trace(i: int, **kw) -> Trace:
    return Trace(kind="chat", model_requested="openai/m", status=200, latency_ms=1.0,
                 request={"messages": [{"role": "user", "content": f"call {i}"}]},
                 response={"content": f"answer {i}"}, **kw)


async def test_one_nul_no_longer_drops_a_batch_of_51_traces(runtime):
    writer = TraceWriter(runtime.pool, batch_size=100, flush_s=0.05)
    batch = [_trace(i) for i in range(51)]
    batch[7].request = {"messages": [{"role": "user", "content": "nul \x00 here"}]}
    batch[8].error, batch[8].key_name = "provider said \x00", "team\x00a"
    batch[9].response = {"content": f"half an emoji {LONE}", f"key{LONE}": 1}
    for t in batch:
        writer.add(t)
    await writer.flush()
    await writer.stop()
    assert await runtime.pool.fetchval("SELECT count(*) FROM gateway_traces") == 51
    assert (writer.written, writer.dropped) == (51, 0)
    row = await runtime.pool.fetchrow("SELECT request, error, key_name FROM gateway_traces "
                                      "WHERE id = $1", batch[7].id)
    assert row["request"]["messages"][0]["content"] == f"nul {REPLACEMENT} here"
    row = await runtime.pool.fetchrow("SELECT error, key_name, response FROM gateway_traces "
                                      "WHERE id = $1", batch[8].id)
    assert (row["error"], row["key_name"]) == (f"provider said {REPLACEMENT}",
                                               f"team{REPLACEMENT}a")
    resp = await runtime.pool.fetchval(
        "SELECT response FROM gateway_traces WHERE id = $1", batch[9].id)
    assert resp == {"content": f"half an emoji {REPLACEMENT}", f"key{REPLACEMENT}": 1}


async def test_a_row_that_cannot_be_stored_is_dropped_alone_and_counted(runtime):
    writer = TraceWriter(runtime.pool, batch_size=100, flush_s=0.05)
    batch = [_trace(i) for i in range(51)]
    batch[20].prompt_tokens = 2 ** 40  # beyond the integer column: no rule makes it fit
    for t in batch:
        writer.add(t)
    await writer.flush()
    await writer.stop()
    ids = {r["id"] for r in await runtime.pool.fetch("SELECT id FROM gateway_traces")}
    assert ids == {t.id for t in batch} - {batch[20].id}
    assert (writer.written, writer.dropped) == (50, 1)


async def test_gateway_traces_a_request_with_nul_and_the_metric_counts_real_drops(runtime):
    async with StubLLM() as stub:
        settings = GatewaySettings(deployments={"*": {"api_base": stub.base_url,
                                                      "api_key": "sk-test"}},
                                   num_retries=0, trace_flush_s=0.05)
        async with serve_gateway(runtime, settings) as gw:
            key = await gw.key(pii_policy="off")
            async with gw.http() as h:
                for text in ("fine", "with \x00 nul", "also fine"):
                    r = await h.post("/v1/chat/completions",
                                     headers={"Authorization": f"Bearer {key}"},
                                     json={"model": "openai/m",
                                           "messages": [{"role": "user", "content": text}]})
                    assert r.status_code == 200, r.text
                await gw.gateway.traces.flush()
                metrics = (await h.get("/metrics")).text
    stored = [r["response"] for r in await runtime.pool.fetch(
        "SELECT response FROM gateway_traces ORDER BY created_at")]
    assert [s["content"] for s in stored] == [
        "fine", f"with {REPLACEMENT} nul", "also fine"]
    assert "harness_gateway_traces_dropped_total 0" in metrics
    assert "harness_gateway_traces_written_total 3" in metrics


@pytest.fixture
def _stub_provider(monkeypatch):
    """LiteLLM's OpenAI provider pointed at the stub through the environment."""
    with StubLLM() as stub:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")
        monkeypatch.setenv("OPENAI_API_BASE", stub.base_url)
        monkeypatch.setenv("OPENAI_BASE_URL", stub.base_url)
        yield stub


async def test_one_bad_model_output_never_fails_the_run(stack_client, _stub_provider):
    stub = _stub_provider
    # "primary" answers NUL for one case; "huge" reports a token count beyond the results
    # table's integer column (a result that cannot be stored even made storable)
    stub.reply("primary", lambda body: "bad \x00 answer" if "bad" in str(body["messages"])
               else "good answer")
    stub.reply("huge", "fine text")
    stub.usage("huge", 10, 2 ** 40)
    p, ds = await seed(stack_client, name="nul", versions=["say {{ word }}"], cases=[
        {"input": {"word": "good"}, "assert": [{"type": "contains", "value": "answer"}]},
        {"input": {"word": "bad"}, "assert": [{"type": "contains", "value": "answer"}]}])
    r = await stack_client.post("/runs", json={
        "dataset_id": ds["id"], "targets": [{"prompt_id": p["id"], "version": 1}],
        "models": ["openai/primary", "openai/huge"]})
    assert r.status_code == 202, r.text
    run = await wait_run(stack_client, r.json()["id"])
    assert run["status"] == "completed", run
    assert run["recorded"] == 4
    items = (await stack_client.get(f"/runs/{run['id']}/results")).json()["items"]
    by = {(i["case_id"], i["model"]): i for i in items}
    outputs = sorted((i["output"] or "", i["status"]) for i in items if i["status"] != "error")
    assert outputs == [(f"bad {REPLACEMENT} answer", "pass"), ("good answer", "pass")]
    errors = [i for i in items if i["status"] == "error"]
    assert len(errors) == 2, by
    assert all("could not be stored" in e["error"] for e in errors)


async def test_a_worker_posting_traces_loses_only_the_one_the_registry_refuses(runtime):
    """The runner as a service posts its traces to ``POST /traces``: one trace the
    registry refuses (here an invalid latency) no longer takes its batch with it."""
    from harness import apikeys
    from harness.tracing import HttpTraceStore
    from services.registry.app import create_app
    from services.registry.trace_ingest import trace_ingest_router
    from tests.support.serving import serve_app

    app = create_app(runtime=runtime, extra_routers=[trace_ingest_router()])
    async with serve_app(app) as url:
        secret = await apikeys.create_key(runtime.pool, "harness-services", "editor")
        writer = TraceWriter(HttpTraceStore(url, secret), batch_size=100, flush_s=0.05)
        batch = [_trace(i, source="runner") for i in range(5)]
        batch[1].latency_ms = -1.0  # TraceIn refuses it
        batch[2].response = {"content": f"nul \x00 and half {LONE}"}
        for t in batch:
            writer.add(t)
        await writer.flush()
        await writer.stop()
    ids = {r["id"] for r in await runtime.pool.fetch("SELECT id FROM gateway_traces")}
    assert ids == {t.id for t in batch} - {batch[1].id}
    assert (writer.written, writer.dropped) == (4, 1)
    resp = await runtime.pool.fetchval("SELECT response FROM gateway_traces WHERE id = $1",
                                       batch[2].id)
    assert resp == {"content": f"nul {REPLACEMENT} and half {REPLACEMENT}"}
