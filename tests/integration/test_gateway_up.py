"""``harness up``'s app: the registry, the runner and the gateway on one port, the runtime
started by the app's own lifespan (the gateway is built after it), answering the official
``openai`` SDK at /v1; runner calls are traced into the same table as gateway calls."""

from __future__ import annotations

import asyncio
import json

import httpx
import openai
import pytest

from services.bootstrap import local_app
from services.gateway.config import GatewaySettings
from tests.support.runs import seed, wait_run
from tests.support.serving import serve_app
from tests.support.stub_llm import StubLLM


@pytest.fixture(autouse=True)
def _fake_key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")


@pytest.fixture
async def up(db_url, tmp_path, monkeypatch):
    """What ``harness up`` serves, with the lifespan on (it starts the local stack)."""
    monkeypatch.setenv("HARNESS_DATA_DIR", str(tmp_path))
    from harness.config import get_settings

    get_settings.cache_clear()
    async with StubLLM() as stub:
        # the runner's endpoint is server configuration, read when the local stack starts
        monkeypatch.setenv("HARNESS_LLM_DEPLOYMENTS", json.dumps({"*": {"api_base":
                                                                        stub.base_url}}))
        get_settings.cache_clear()
        settings = GatewaySettings(deployments={"*": {"api_base": stub.base_url,
                                                      "api_key": "sk-test"}},
                                   num_retries=0, trace_flush_s=0.05)
        app = local_app(db_url, settings)
        async with serve_app(app, lifespan="on") as url:
            yield app, url, stub
    get_settings.cache_clear()


async def test_up_serves_the_gateway_to_the_openai_sdk_and_traces_runner_calls(up):
    app, url, stub = up
    async with httpx.AsyncClient(base_url=url, timeout=30) as h:
        assert app.state.gateway.settings.default_pii_policy == "mask"
        r = await h.post("/gateway/keys", json={"name": "local"})  # no API keys: local mode
        assert r.status_code == 201, r.text
        client = openai.AsyncOpenAI(base_url=url + "/v1", api_key=r.json()["key"],
                                    max_retries=0)
        stub.reply("m1", "hi from the stub")
        c = await client.chat.completions.create(
            model="openai/m1", messages=[{"role": "user", "content": "mail me: a@b.co"}])
        assert c.choices[0].message.content == "hi from the stub" and c.model == "openai/m1"
        assert "a@b.co" not in stub.chat_requests[-1].messages[-1]["content"]  # masked
        stream = await client.chat.completions.create(
            model="openai/m1", messages=[{"role": "user", "content": "x"}], stream=True)
        assert "".join([ch.choices[0].delta.content or "" async for ch in stream
                        if ch.choices]) == "hi from the stub"

        # a run on the same app: its model calls are traced as source=runner
        p, ds = await seed(h, cases=[{"input": {"city": "Oslo"}}, {"input": {"city": "Rome"}}],
                           versions=["About {{ city }}", "More on {{ city }}"])
        run = (await h.post("/runs", json={"dataset_id": ds["id"], "targets": [
            {"prompt_id": p["id"], "version": 2, "model": "openai/m1"}]})).json()
        assert run.get("id"), run
        done = await wait_run(h, run["id"])
        assert done["status"] == "completed", done

    gw = app.state.gateway
    await gw.traces.flush()
    rows = []
    for _ in range(100):  # the runner's writer flushes on its own schedule
        rows = await gw.rt.pool.fetch(
            "SELECT * FROM gateway_traces WHERE source = 'runner' AND run_id = $1", run["id"])
        if len(rows) == 2:
            break
        await asyncio.sleep(0.05)
    assert len(rows) == 2
    assert {r["prompt_version"] for r in rows} == {2} and {r["prompt_id"] for r in rows} == {
        p["id"]}
    assert all(r["model_answered"] == "openai/m1" and r["status"] == 200 for r in rows)
    assert all(r["prompt_tokens"] and r["latency_ms"] > 0 for r in rows)
    gateway_rows = await gw.rt.pool.fetch(
        "SELECT * FROM gateway_traces WHERE source = 'gateway' ORDER BY created_at")
    assert [r["stream"] for r in gateway_rows] == [False, True]
    async with httpx.AsyncClient(base_url=url, timeout=30) as h:
        counts = {}
        for source in ("runner", "gateway", None):
            params = {"group_by": "model"} | ({"source": source} if source else {})
            items = (await h.get("/metrics/usage", params=params)).json()["items"]
            counts[source] = sum(i["requests"] for i in items if i["model"] == "openai/m1")
        assert counts == {"runner": 2, "gateway": 2, None: 4}
        assert (await h.get("/metrics/usage", params={"source": "x"})).status_code == 422
