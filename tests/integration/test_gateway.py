"""The gateway against real Postgres, real LiteLLM and the loopback stub provider."""

from __future__ import annotations

import asyncio

import openai
import pytest

from services.gateway.config import GatewaySettings
from tests.support.gateway import serve_gateway
from tests.support.stub_llm import StubLLM

PRICES = {"openai/primary": {"input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6},
          "openai/backup": {"input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6}}


@pytest.fixture
async def stub():
    async with StubLLM() as s:
        yield s


@pytest.fixture
async def gw(runtime, stub):
    """Gateway + registry served by uvicorn on loopback."""
    settings = GatewaySettings(
        aliases={"smart": ["openai/primary", "openai/backup"]},
        deployments={"*": {"api_base": stub.base_url, "api_key": "sk-test"}},
        prices=PRICES, num_retries=1, timeout_s=5, cooldown_s=30, allowed_fails=1,
        trace_flush_s=0.05)
    async with serve_gateway(runtime, settings) as served:
        yield served


async def test_sdk_non_streaming_and_streaming(gw, stub):
    key = await gw.key()
    client = gw.sdk(key)
    stub.script("primary", "hello from primary")
    r = await client.chat.completions.with_raw_response.create(
        model="openai/primary", messages=[{"role": "user", "content": "hi"}])
    c = r.parse()
    assert c.choices[0].message.content == "hello from primary"
    assert c.model == "openai/primary" and r.headers["x-harness-model"] == "openai/primary"
    assert c.usage.prompt_tokens > 0
    stream = await client.chat.completions.create(
        model="openai/primary", messages=[{"role": "user", "content": "one two three"}],
        stream=True, stream_options={"include_usage": True})
    parts, usage = [], None
    async for chunk in stream:
        if chunk.choices:
            parts.append(chunk.choices[0].delta.content or "")
        if chunk.usage:
            usage = chunk.usage
        assert chunk.model == "openai/primary"
    assert "".join(parts) == "one two three" and usage.completion_tokens == 3
    models = await client.models.list()
    assert {"smart", "echo"} <= {m.id for m in models.data}
    emb = await client.embeddings.create(model="openai/primary", input=["a", "b"])
    assert len(emb.data) == 2 and emb.model == "openai/primary"


async def test_fallback_on_500s_and_cooldown(gw, stub):
    key = await gw.key()
    client = gw.sdk(key)
    stub.fail_next(500, times=5, model="primary")
    stub.reply("backup", "from backup")
    r = await client.chat.completions.with_raw_response.create(
        model="smart", messages=[{"role": "user", "content": "hi"}])
    assert r.parse().choices[0].message.content == "from backup"
    assert r.headers["x-harness-model"] == "openai/backup"
    assert r.parse().model == "openai/backup"
    assert stub.models_called() == ["primary", "primary", "backup"]  # 1 retry, then fallback
    # primary is cooling down: the next call goes straight to the backup
    stub.reset()
    stub.reply("backup", "again backup")
    r = await client.chat.completions.create(
        model="smart", messages=[{"role": "user", "content": "hi"}])
    assert r.choices[0].message.content == "again backup"
    assert stub.models_called() == ["backup"]
    assert gw.gateway.router.cooling("openai/primary") > 0


async def test_fallback_on_timeout_and_stream_failing_before_first_token(gw, stub):
    gw.gateway.router.settings.timeout_s = 0.5
    key = await gw.key()
    client = gw.sdk(key)
    stub.stall_next(3, times=2, model="primary")
    stub.reply("backup", "fast backup")
    r = await client.chat.completions.create(
        model="smart", messages=[{"role": "user", "content": "hi"}])
    assert r.model == "openai/backup" and r.choices[0].message.content == "fast backup"
    gw.gateway.router.cooldowns.clear()
    stub.reset()
    stub.fail_next(503, times=5, model="primary")
    stub.reply("backup", "streamed backup")
    stream = await client.chat.completions.create(
        model="smart", messages=[{"role": "user", "content": "hi"}], stream=True)
    text = ""
    async for chunk in stream:
        assert chunk.model == "openai/backup"
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
    assert text == "streamed backup"


async def test_quota_exhausted_is_cooled_down_and_failed_over(gw, stub):
    key = await gw.key()
    client = gw.sdk(key)
    stub.quota_next(times=5, model="primary")
    stub.reply("backup", "paid by backup")
    r = await client.chat.completions.create(
        model="smart", messages=[{"role": "user", "content": "hi"}])
    assert r.model == "openai/backup"
    assert gw.gateway.router.cooling("openai/primary") > 0
    stub.reset()
    await client.chat.completions.create(model="smart",
                                         messages=[{"role": "user", "content": "x"}])
    assert stub.models_called() == ["backup"]


async def test_401_403_429_with_retry_after(gw, stub):
    async with gw.http() as h:
        r = await h.post("/v1/chat/completions", json={"model": "openai/primary",
                                                       "messages": []})
        assert r.status_code == 401
        r = await h.post("/v1/chat/completions", json={"model": "openai/primary",
                                                       "messages": []},
                         headers={"Authorization": "Bearer nope"})
        assert r.status_code == 401
    scoped = await gw.key("scoped", models=["openai/backup"], rpm=2)
    client = gw.sdk(scoped)
    with pytest.raises(openai.PermissionDeniedError):
        await client.chat.completions.create(model="openai/primary",
                                             messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(openai.PermissionDeniedError):
        await client.chat.completions.create(model="app/anything",
                                             messages=[{"role": "user", "content": "hi"}])
    for _ in range(2):
        await client.chat.completions.create(model="openai/backup",
                                             messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(openai.RateLimitError) as ei:
        await client.chat.completions.create(model="openai/backup",
                                             messages=[{"role": "user", "content": "hi"}])
    retry_after = int(ei.value.response.headers["retry-after"])
    assert 1 <= retry_after <= 60


async def _make_app(h, name, content, model="openai/primary", **extra):
    p = (await h.post("/prompts", json={"name": name + "-prompt", "content": content})).json()
    r = await h.post("/applications", json={"name": name, "model_id": model,
                                             "prompt_id": p["id"], **extra})
    assert r.status_code == 201, r.text
    return p


async def test_application_uses_active_version_and_activation_changes_next_answer(gw, stub):
    stub.reply("primary", lambda body: " | ".join(m["content"] for m in body["messages"]))
    key = await gw.key(applications=["bot"])
    client = gw.sdk(key)
    async with gw.http() as h:
        p = await _make_app(h, "bot", [{"role": "system", "content": "Be {{ tone }}."}],
                            max_tokens=50, temperature=0.1)
        r = await client.chat.completions.create(
            model="app/bot", messages=[{"role": "user", "content": "hello"}],
            extra_body={"variables": {"tone": "brief"}})
        assert r.choices[0].message.content == "Be brief. | hello"
        sent = stub.chat_requests[-1].body
        assert sent["max_tokens"] == 50 and sent["temperature"] == 0.1
        r = await client.chat.completions.create(
            model="app/bot", messages=[{"role": "user", "content": "hello"}],
            extra_body={"metadata": {"variables": {"tone": "kind"}}})
        assert r.choices[0].message.content == "Be kind. | hello"
        v = await h.post(f"/prompts/{p['id']}/versions",
                         json={"content": [{"role": "system", "content": "V2 {{ tone }}"}],
                               "activate": True})
        assert v.status_code in (200, 201), v.text
        r = await client.chat.completions.create(
            model="app/bot", messages=[{"role": "user", "content": "hello"}],
            extra_body={"variables": {"tone": "now"}})
        assert r.choices[0].message.content == "V2 now | hello"
    await gw.gateway.traces.flush()
    row = await gw.pool.fetchrow("SELECT * FROM gateway_traces WHERE application = 'bot' "
                                 "ORDER BY created_at DESC LIMIT 1")
    assert row["prompt_version"] == 2 and row["prompt_id"] == p["id"]


async def test_budget_race_200_concurrent_calls_never_overrun(gw, stub):
    stub.latency_s = 0.05
    stub.usage("primary", 10, 10)
    budget = 0.002
    key = await gw.key(budget_day_usd=budget)
    # worst case per call: (bytes bound ~30 tokens + 20 max_tokens) priced; actual 3e-5
    async with gw.http() as h:
        async def one():
            return await h.post("/v1/chat/completions",
                                headers={"Authorization": f"Bearer {key}"},
                                json={"model": "openai/primary", "max_tokens": 20,
                                      "messages": [{"role": "user", "content": "hi"}]})
        rs = await asyncio.gather(*[one() for _ in range(200)])
    ok = [r for r in rs if r.status_code == 200]
    refused = [r for r in rs if r.status_code == 429]
    assert len(ok) + len(refused) == 200 and ok and refused
    assert all(r.headers.get("retry-after") for r in refused)
    row = await gw.pool.fetchrow("SELECT * FROM gateway_spend")
    assert float(row["reserved_usd"]) == 0
    assert float(row["spent_usd"]) <= budget
    assert float(row["spent_usd"]) == pytest.approx(len(ok) * 3e-5)
    assert len(stub.chat_requests) == len(ok)


async def test_unknown_price_refused_under_budget(gw, stub):
    key = await gw.key(budget_month_usd=5)
    async with gw.http() as h:
        r = await h.post("/v1/chat/completions", headers={"Authorization": f"Bearer {key}"},
                         json={"model": "openai/no-price-model",
                               "messages": [{"role": "user", "content": "hi"}]})
    assert r.status_code == 422 and r.json()["models"] == ["openai/no-price-model"]
    assert stub.chat_requests == []
    free = await gw.key("nobudget")
    async with gw.http() as h:
        r = await h.post("/v1/chat/completions", headers={"Authorization": f"Bearer {free}"},
                         json={"model": "openai/no-price-model",
                               "messages": [{"role": "user", "content": "hi"}]})
    assert r.status_code == 200 and "x-harness-cost-usd" not in r.headers
    await gw.gateway.traces.flush()
    cost = await gw.pool.fetchval("SELECT cost_usd FROM gateway_traces "
                                  "WHERE model_requested = 'openai/no-price-model'")
    assert cost is None  # unknown, never a silent 0


async def test_pii_mask_and_block(gw, stub):
    masked = await gw.key("m")  # default policy: mask
    client = gw.sdk(masked)
    r = await client.chat.completions.create(
        model="openai/primary",
        messages=[{"role": "user", "content": "call 010-1234-5678 or hong@example.com"}])
    sent = stub.chat_requests[-1].messages[-1]["content"]
    assert "010-1234-5678" not in sent and "hong@example.com" not in sent
    assert "[PHONE]" in sent and "[EMAIL]" in sent
    assert "010-1234-5678" not in r.choices[0].message.content
    await gw.gateway.traces.flush()
    stored = await gw.pool.fetchval("SELECT request::text || response::text "
                                    "FROM gateway_traces")
    assert "010-1234-5678" not in stored and "hong@example.com" not in stored
    blocker = await gw.key("b", pii_policy="block")
    n = len(stub.chat_requests)
    async with gw.http() as h:
        r = await h.post("/v1/chat/completions", headers={"Authorization": f"Bearer {blocker}"},
                         json={"model": "openai/primary", "messages": [
                             {"role": "user", "content": "my mail is hong@example.com"}]})
    assert r.status_code == 422 and r.json()["kinds"] == ["email"]
    assert len(stub.chat_requests) == n


async def test_traces_and_usage_metrics(gw, stub):
    key = await gw.key("metrics-key")
    client = gw.sdk(key)
    stub.usage("primary", 7, 5)
    for _ in range(3):
        await client.chat.completions.create(model="openai/primary",
                                             messages=[{"role": "user", "content": "hi"}])
    stub.fail_next(400, times=1, model="primary", message="bad thing")
    with pytest.raises(openai.BadRequestError):
        await client.chat.completions.create(model="openai/primary",
                                             messages=[{"role": "user", "content": "hi"}])
    async with gw.http() as h:
        u = (await h.get("/metrics/usage", params={"group_by": "model",
                                                   "interval": "hour"})).json()
        prom = (await h.get("/metrics")).text
        k = (await h.get("/metrics/usage", params={"group_by": "key",
                                                   "interval": "day"})).json()
    [item] = [i for i in u["items"] if i["model"] == "openai/primary"]
    # the failed call answered no model: it counts under the model it asked for, not "none"
    assert item["requests"] == 4 and item["errors"] == 1
    assert [i for i in u["items"] if i["model"] is None] == []
    assert item["prompt_tokens"] == 21 and item["completion_tokens"] == 15
    assert item["cost_usd"] == pytest.approx(3 * (7e-6 + 10e-6))
    assert item["latency_ms"]["p50"] > 0 and item["latency_ms"]["p99"] >= item["latency_ms"]["p50"]
    [kitem] = k["items"]
    assert kitem["key"] == "metrics-key" and kitem["requests"] == 4
    assert kitem["errors"] == 1 and kitem["error_rate"] == 0.25
    assert 'harness_gateway_requests_total{model="openai/primary",app="",status="200"} 3' in prom
    assert "harness_gateway_latency_seconds_bucket" in prom
    parts = await gw.pool.fetch("SELECT c.relname FROM pg_inherits i JOIN pg_class c "
                                "ON c.oid = i.inhrelid")
    assert parts and parts[0]["relname"].startswith("gateway_traces_")


async def test_offline_echo_model_and_unknown_models(gw, stub):
    key = await gw.key(budget_day_usd=0.01)  # echo is free, so a budget allows it
    client = gw.sdk(key)
    r = await client.chat.completions.with_raw_response.create(
        model="echo", messages=[{"role": "user", "content": "say this back"}])
    c = r.parse()
    assert c.choices[0].message.content == "say this back" and c.model == "echo"
    assert c.usage.prompt_tokens == 4 and float(r.headers["x-harness-cost-usd"]) == 0
    stream = await client.chat.completions.create(
        model="echo", messages=[{"role": "user", "content": "streamed back"}], stream=True)
    assert "".join([ch.choices[0].delta.content or "" async for ch in stream
                    if ch.choices]) == "streamed back"
    free = gw.sdk(await gw.key("free"))
    with pytest.raises(openai.NotFoundError) as ei:
        await free.chat.completions.create(model="no-such-model",
                                           messages=[{"role": "user", "content": "hi"}])
    assert "no-such-model" in str(ei.value)
    assert stub.chat_requests == []
