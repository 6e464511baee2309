"""Cost alerts against real Postgres, real LiteLLM calls to the stub and a local HTTP
receiver standing in for the Slack webhook."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from harness.tracing import Trace
from services.gateway.alerts import AlertMonitor
from services.gateway.config import GatewaySettings
from tests.support.gateway import serve_gateway
from tests.support.http_receiver import HttpReceiver
from tests.support.stub_llm import StubLLM

PRICES = {"openai/primary": {"input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6}}
CALL_COST = 10 * 1e-6 + 10 * 2e-6  # the stub reports 10 tokens in, 10 out


@pytest.fixture
async def stub():
    async with StubLLM() as s:
        s.usage("primary", 10, 10)
        yield s


@pytest.fixture
def hook():
    with HttpReceiver() as rx:
        yield rx


@pytest.fixture
async def gw(runtime, stub):
    settings = GatewaySettings(deployments={"*": {"api_base": stub.base_url,
                                                  "api_key": "sk-test"}},
                               prices=PRICES, num_retries=0, trace_flush_s=0.02,
                               alert_check_s=3600)  # checks come from trace batches here
    async with serve_gateway(runtime, settings) as served:
        yield served


async def _calls(gw, key: str, n: int) -> None:
    client = gw.sdk(key)
    for _ in range(n):
        await client.chat.completions.create(model="openai/primary",
                                             messages=[{"role": "user", "content": "hi"}])


async def _settle(gw) -> None:
    await gw.gateway.traces.flush()
    await gw.gateway.alerts.settled()


async def test_key_alert_fires_once_per_period_with_event_and_webhook(gw, hook, runtime):
    secret, key_id = await gw.key_with_id("team-a")
    other, _ = await gw.key_with_id("team-b")
    async with gw.http() as h:
        r = await h.post("/gateway/alerts", json={
            "name": "team-a daily", "scope": "key", "target": key_id, "period": "day",
            "threshold_usd": 2.5 * CALL_COST, "webhook_url": hook.url + "/slack"})
        assert r.status_code == 201, r.text
        alert = r.json()
        assert alert["spent_usd"] == 0 and alert["fired"] is False

        await _calls(gw, other, 3)  # another key's spend does not count
        await _calls(gw, secret, 2)
        await _settle(gw)
        assert hook.requests == []
        await _calls(gw, secret, 1)  # crosses 2.5 calls' worth
        await _settle(gw)
        await hook.wait_for(1)
        await _calls(gw, secret, 2)  # still over: no second firing this day
        await _settle(gw)
        await gw.gateway.alerts.check()

        assert len(hook.requests) == 1
        msg = hook.requests[0]
        assert msg.path == "/slack" and msg.headers["content-type"] == "application/json"
        text = msg.json()["text"]
        assert "team-a daily" in text and f"${3 * CALL_COST:,.4f}" in text
        listed = (await h.get("/gateway/alerts")).json()["items"]
        assert listed[0]["fired"] is True
        assert listed[0]["spent_usd"] == pytest.approx(5 * CALL_COST)
        firings = (await h.get("/gateway/alerts/firings")).json()["items"]
        assert len(firings) == 1 and firings[0]["delivered"] and firings[0]["event_recorded"]
        assert firings[0]["spent_usd"] == pytest.approx(3 * CALL_COST)

    events = await runtime.store.read_stream(f"alert-{alert['id']}")
    assert [e.type for e in events] == ["CostAlertFired"]
    data = events[0].data
    assert data["scope"] == "key" and data["target"] == key_id and data["period"] == "day"
    assert data["spent_usd"] == pytest.approx(3 * CALL_COST)
    assert data["period_start"] == datetime.now(UTC).date().isoformat()

    # the next day is a new period: it fires again once that day's spend crosses
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    for _ in range(3):
        gw.gateway.traces.add(Trace(kind="chat", model_requested="openai/primary", status=200,
                                    latency_ms=1, created_at=tomorrow,
                                    key_id=uuid.UUID(key_id),
                                    cost_usd=CALL_COST))
    await gw.gateway.traces.flush()
    claimed = await gw.gateway.alerts.check(now=tomorrow)
    assert [c["period_start"] for c in claimed] == [tomorrow.date().isoformat()]
    await hook.wait_for(2)
    assert len(await runtime.store.read_stream(f"alert-{alert['id']}")) == 2


async def test_concurrent_checkers_fire_once_and_failed_webhooks_are_retried(gw, hook, runtime):
    async with gw.http() as h:
        alert = (await h.post("/gateway/alerts", json={
            "scope": "total", "period": "month", "threshold_usd": CALL_COST / 2,
            "webhook_url": hook.url + "/hook"})).json()
    await gw.gateway.alerts.stop()  # only the checkers below look at this spend
    gw.gateway.traces.add(Trace(kind="chat", model_requested="openai/primary", status=200,
                                latency_ms=1, cost_usd=CALL_COST, source="runner",
                                run_id="r1"))
    await gw.gateway.traces.flush()
    hook.fail_next(1, status=503)
    # eight gateway processes checking at the same moment
    monitors = [AlertMonitor(runtime.pool, runtime.commands) for _ in range(8)]
    results = await asyncio.gather(*(m.check() for m in monitors))
    assert sum(len(r) for r in results) == 1
    assert len(hook.requests) == 1 and hook.requests[0].status == 503
    row = await runtime.pool.fetchrow("SELECT * FROM gateway_alert_firings")
    assert not row["delivered"] and "503" in row["last_error"] and row["attempts"] == 1
    assert row["next_attempt_at"] > datetime.now(UTC)  # backing off
    await asyncio.gather(*(m.check() for m in monitors))
    assert len(hook.requests) == 1  # not before its turn
    await runtime.pool.execute("UPDATE gateway_alert_firings SET next_attempt_at = now()")
    await asyncio.gather(*(m.process_pending() for m in monitors))
    assert len(hook.requests) == 2 and hook.requests[1].status == 200
    row = await runtime.pool.fetchrow("SELECT * FROM gateway_alert_firings")
    assert row["delivered"] and row["attempts"] == 2 and row["last_error"] is None
    events = await runtime.store.read_stream(f"alert-{alert['id']}")
    assert len(events) == 1 and events[0].data["scope"] == "total"


async def test_alert_api_validates_and_deletes(gw, hook):
    _, key_id = await gw.key_with_id("k")
    async with gw.http() as h:
        bad = [
            ({"scope": "total", "target": "x", "period": "day", "threshold_usd": 1}, "target"),
            ({"scope": "key", "period": "day", "threshold_usd": 1}, "target"),
            ({"scope": "key", "target": "not-a-uuid", "period": "day", "threshold_usd": 1},
             "target"),
            ({"scope": "key", "target": "6f1c2b1e-0000-4000-8000-000000000000",
              "period": "day", "threshold_usd": 1}, "target"),
            ({"scope": "app", "target": "no-such-app", "period": "day", "threshold_usd": 1},
             "target"),
            ({"scope": "total", "period": "week", "threshold_usd": 1}, None),
            ({"scope": "total", "period": "day", "threshold_usd": 0}, None),
            ({"scope": "total", "period": "day", "threshold_usd": 1,
              "webhook_url": "not a url"}, None),
        ]
        for body, field in bad:
            r = await h.post("/gateway/alerts", json=body)
            assert r.status_code == 422, (body, r.text)
            assert r.headers["content-type"].startswith("application/problem+json")
            if field:
                assert r.json()["field"] == field
        assert (await h.get("/gateway/alerts")).json()["items"] == []  # nothing half-written
        ok = await h.post("/gateway/alerts", json={"scope": "key", "target": key_id,
                                                   "period": "month", "threshold_usd": 10})
        assert ok.status_code == 201
        aid = ok.json()["id"]
        assert (await h.delete(f"/gateway/alerts/{aid}")).status_code == 204
        r = await h.delete(f"/gateway/alerts/{aid}")
        assert r.status_code == 404 and aid in r.json()["detail"]
