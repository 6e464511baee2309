"""Score alerts against real Postgres over HTTP, with a local HTTP receiver standing in for
the Slack webhook: an alert stays quiet while the rolling mean is above its threshold,
fires once (event and webhook) when it drops, not again in the same period, again in the
next; concurrent checkers fire once and a failed delivery is retried; filters, validation
naming the field, deletion and a rebuild."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from harness.evaluation.online import score_event_id
from harness.events import EventMetadata, streams
from harness.events.feedback_events import TraceScored
from harness.eventstore import EventStore
from harness.tracing import PostgresTraceStore
from harness.tracing.record import Trace
from services.registry.read import projections
from services.registry.score_alerts import ScoreAlertMonitor
from tests.support.http_receiver import HttpReceiver
from tests.support.keys import bearer_headers
from tests.support.online import read_traces

HANG_S = 60.0


@pytest.fixture
def hook(setenv):
    setenv("HARNESS_WEBHOOK_ALLOWED_NETWORKS", "127.0.0.0/8")  # the receiver is on loopback
    with HttpReceiver() as rx:
        yield rx


@pytest.fixture
async def keys(runtime):
    return await bearer_headers(runtime, rita="editor", vera="viewer")


@pytest.fixture
async def stars(client, keys):
    r = await client.post("/score-configs", headers=keys["rita"], json={
        "name": "stars", "data_type": "numeric", "min_value": 1, "max_value": 5})
    assert r.status_code == 201, r.text


async def _traces(runtime, model: str, n: int) -> list[str]:
    traces = [Trace(kind="chat", model_requested=model, status=200, latency_ms=5.0,
                    created_at=datetime.now(UTC),
                    request={"messages": [{"role": "user", "content": "hi"}]},
                    response={"content": "hello"}) for _ in range(n)]
    await PostgresTraceStore(runtime.pool).write(traces)
    return [str(t.id) for t in traces]


async def _score(client, keys, trace_ids: list[str], values: list[int]) -> None:
    for trace_id, value in zip(trace_ids, values, strict=True):
        r = await client.post(f"/traces/{trace_id}/scores", headers=keys["rita"],
                              json={"name": "stars", "value": value})
        assert r.status_code in (200, 201), r.text


async def _judge(runtime, evaluator_id: str, trace_id: str, value: float) -> None:
    await runtime.commands.record_facts(
        streams.trace(trace_id),
        [TraceScored(trace_id=trace_id, name="stars", data_type="numeric", value=value,
                     source="evaluator", evaluator_id=evaluator_id)],
        [score_event_id(evaluator_id, trace_id)], EventMetadata(actor="scorer"))


async def test_alert_fires_once_when_the_mean_drops_and_not_while_above(
        client, runtime, keys, stars, hook):
    r = await client.post("/score-alerts", headers=keys["rita"], json={
        "name": "support quality", "score_name": "stars", "threshold": 3, "min_scores": 3,
        "model": "openai/a", "window_minutes": 2880, "webhook_url": hook.url + "/slack"})
    assert r.status_code == 201, r.text
    alert = r.json()
    assert alert["current"] == {**alert["current"], "mean": None, "count": 0,
                                "fired": False, "below": False}
    assert alert["webhook"] == f"{hook.url}/…"  # the path (a token, for Slack) is not shown
    assert alert["created_by"] == "rita" and alert["period"] == "day"

    a = await _traces(runtime, "openai/a", 7)
    b = await _traces(runtime, "openai/b", 3)
    await _score(client, keys, b, [1, 1, 1])      # another model: never counted
    await _score(client, keys, a[:1], [1])        # below, but fewer than min_scores
    await runtime.score_alerts.settled(HANG_S)
    assert hook.requests == []
    await _score(client, keys, a[1:4], [5, 5, 1])  # means 3, 3.67, then 3.0: not below
    await runtime.score_alerts.settled(HANG_S)
    await runtime.score_alerts.check()
    assert hook.requests == []
    got = (await client.get(f"/score-alerts/{alert['id']}", headers=keys["vera"])).json()
    assert got["current"]["mean"] == pytest.approx(3.0) and got["current"]["count"] == 4
    assert got["current"]["below"] is False

    await _score(client, keys, a[4:5], [2])       # mean 2.8: below
    await runtime.score_alerts.settled(HANG_S)
    await hook.wait_for(1, timeout_s=HANG_S)
    await _score(client, keys, a[5:7], [1, 1])    # still below: not again this day
    await runtime.score_alerts.settled(HANG_S)
    assert await runtime.score_alerts.check() == []
    assert len(hook.requests) == 1
    msg = hook.requests[0]
    assert msg.path == "/slack" and msg.headers["content-type"] == "application/json"
    text = msg.json()["text"]
    assert "support quality" in text and "2.8" in text and "over 5 scores" in text

    listed = (await client.get("/score-alerts", headers=keys["vera"])).json()
    assert [x["id"] for x in listed] == [alert["id"]]
    assert listed[0]["current"]["fired"] is True and listed[0]["current"]["below"] is True
    firings = (await client.get("/score-alerts/firings", headers=keys["vera"])).json()
    assert len(firings) == 1
    assert firings[0]["delivered"] and firings[0]["attempts"] == 1
    assert firings[0]["mean"] == pytest.approx(2.8) and firings[0]["count"] == 5

    events = await runtime.store.read_stream(streams.score_alert(alert["id"]))
    assert [e.type for e in events] == ["ScoreAlertCreated", "ScoreAlertFired"]
    assert "webhook" not in str(events[0].data) and hook.url not in str(events[0].data)
    assert events[1].data["period_start"] == datetime.now(UTC).replace(
        hour=0, minute=0, second=0, microsecond=0).isoformat()

    # the next day is a new period: still below, so it fires again, once
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    claimed = await runtime.score_alerts.check(now=tomorrow)
    assert len(claimed) == 1 and claimed[0]["count"] == 7
    assert await runtime.score_alerts.check(now=tomorrow) == []
    await hook.wait_for(2, timeout_s=HANG_S)
    assert len(hook.requests) == 2
    assert len(await runtime.store.read_stream(streams.score_alert(alert["id"]))) == 3


async def test_concurrent_checkers_fire_once_and_a_failed_delivery_is_retried(
        client, runtime, keys, stars, hook):
    runtime.score_alerts.stop()  # only the checkers below look
    r = await client.post("/score-alerts", headers=keys["rita"], json={
        "score_name": "stars", "threshold": 4, "min_scores": 1, "period": "hour",
        "webhook_url": hook.url + "/hook"})
    assert r.status_code == 201, r.text
    alert = r.json()
    await _score(client, keys, await _traces(runtime, "openai/a", 1), [2])
    hook.fail_next(1, status=503)
    monitors = [ScoreAlertMonitor(runtime.pool, runtime.commands) for _ in range(8)]
    results = await asyncio.gather(*(m.check() for m in monitors))
    assert sum(len(x) for x in results) == 1
    assert len(hook.requests) == 1 and hook.requests[0].status == 503
    [firing] = (await client.get(f"/score-alerts/firings?alert_id={alert['id']}",
                                 headers=keys["vera"])).json()
    assert not firing["delivered"] and firing["attempts"] == 1
    assert firing["last_status"] == 503 and "503" in firing["last_error"]
    await asyncio.gather(*(m.check() for m in monitors))
    assert len(hook.requests) == 1  # backing off: not before its turn
    await runtime.pool.execute("UPDATE score_alert_deliveries SET next_attempt_at = now()")
    await asyncio.gather(*(m.deliver_pending() for m in monitors))
    assert len(hook.requests) == 2 and hook.requests[1].status == 200
    [firing] = (await client.get("/score-alerts/firings", headers=keys["vera"])).json()
    assert firing["delivered"] and firing["attempts"] == 2 and firing["last_error"] is None
    events = await runtime.store.read_stream(streams.score_alert(alert["id"]))
    assert [e.type for e in events] == ["ScoreAlertCreated", "ScoreAlertFired"]
    assert events[1].data["period"] == "hour"


async def test_filters_validation_deletion_and_rebuild(client, runtime, keys, stars, hook):
    r = await client.post("/evaluators", headers=keys["rita"], json={
        "name": "stars", "assertion": {"type": "contains", "value": "hello"}})
    assert r.status_code == 201, r.text
    evaluator = r.json()
    other = str(uuid.uuid4())
    traces = await _traces(runtime, "openai/a", 3)
    for t, v in zip(traces, [0.2, 0.4, 0.6], strict=True):
        await _judge(runtime, evaluator["id"], t, v)
        await _judge(runtime, other, t, 1.0)
    await _score(client, keys, traces, [5, 5, 5])

    made = {}
    for name, extra in [("judge", {"evaluator_id": evaluator["id"]}),
                        ("people", {"source": "human"}),
                        ("all", {})]:
        r = await client.post("/score-alerts", headers=keys["rita"], json={
            "name": name, "score_name": "stars", "threshold": 0.1, **extra})
        assert r.status_code == 201, r.text
        made[name] = r.json()
    assert made["judge"]["source"] == "evaluator"  # an evaluator's scores are evaluator's
    assert made["judge"]["current"]["mean"] == pytest.approx(0.4)
    assert made["judge"]["current"]["count"] == 3
    assert made["people"]["current"]["mean"] == pytest.approx(5.0)
    assert made["all"]["current"]["count"] == 9

    base = {"score_name": "stars", "threshold": 1}
    for body, field in [
        ({**base, "prompt_version": 2}, "prompt_version"),
        ({**base, "prompt_id": "nope"}, "prompt_id"),
        ({**base, "evaluator_id": "nope"}, "evaluator_id"),
        ({**base, "evaluator_id": evaluator["id"], "source": "human"}, "source"),
        ({**base, "score_name": "no spaces"}, "score_name"),
        ({**base, "webhook_url": "http://10.1.2.3/hook"}, "webhook_url"),
    ]:
        r = await client.post("/score-alerts", headers=keys["rita"], json=body)
        assert r.status_code == 422 and r.json().get("field") == field, (body, r.text)
    for body in [{**base, "window_minutes": 0}, {**base, "period": "week"},
                 {**base, "threshold": "high"}, {"threshold": 1}, {**base, "extra": 1}]:
        r = await client.post("/score-alerts", headers=keys["rita"], json=body)
        assert r.status_code == 422, (body, r.text)
    r = await client.post("/score-alerts", headers=keys["vera"], json=base)
    assert r.status_code == 403
    assert (await client.get("/score-alerts/nope", headers=keys["vera"])).status_code == 404

    async def dump():
        return [[dict(r) for r in await runtime.pool.fetch(f"SELECT * FROM {t} ORDER BY 1")]
                for t in ("score_alerts", "score_alert_firings")]

    before = await dump()
    await projections.rebuild(EventStore(runtime.pool))
    assert await dump() == before

    url = f"/score-alerts/{made['all']['id']}"
    assert (await client.delete(url, headers=keys["vera"])).status_code == 403
    assert (await client.delete(url, headers=keys["rita"])).status_code == 204
    assert (await client.delete(url, headers=keys["rita"])).status_code == 404
    assert (await client.get(url, headers=keys["vera"])).status_code == 404
    listed = (await client.get("/score-alerts", headers=keys["vera"])).json()
    assert sorted(x["name"] for x in listed) == ["judge", "people"]
    events = await runtime.store.read_stream(streams.score_alert(made["all"]["id"]))
    assert [e.type for e in events] == ["ScoreAlertCreated", "ScoreAlertDeleted"]


async def test_live_traffic_scored_online_fires_the_alert_once(client, runtime, keys, hook):
    """The whole loop: gateway calls become traces, the online scorer scores them with a
    ``contains`` evaluator, the registry records the scores and the alert on that
    evaluator's pass rate fires once when answers go bad."""
    from harness.llm import LLMClient
    from services.gateway.config import GatewaySettings
    from services.scorer.local import LocalTraceFeed
    from services.scorer.online import OnlineScorer
    from services.worker_results import BatchingLocalSink
    from tests.support.gateway import serve_gateway
    from tests.support.stub_llm import StubLLM

    r = await client.post("/evaluators", headers=keys["rita"], json={
        "name": "thanks", "assertion": {"type": "icontains", "value": "thank"},
        "traffic": {"source": "gateway"}})
    assert r.status_code == 201, r.text
    evaluator = r.json()
    r = await client.post("/score-alerts", headers=keys["rita"], json={
        "name": "courtesy", "score_name": "thanks", "evaluator_id": evaluator["id"],
        "threshold": 0.5, "min_scores": 3, "webhook_url": hook.url + "/slack"})
    assert r.status_code == 201, r.text
    alert = r.json()

    async with StubLLM() as stub:
        deployments = {"*": {"api_base": stub.base_url, "api_key": "sk-test"}}
        settings = GatewaySettings(deployments=deployments, trace_flush_s=0.05,
                                   alert_check_s=3600)
        scorer = OnlineScorer(llm=LLMClient(deployments=deployments),
                              feed=LocalTraceFeed(runtime.pool),
                              sink=BatchingLocalSink(runtime.commands, actor="scorer"))
        async with serve_gateway(runtime, settings) as gw:
            sdk = gw.sdk(await gw.key("app"))

            async def calls(answer: str, n: int) -> None:
                stub.script("primary", *([answer] * n))
                for _ in range(n):
                    await sdk.chat.completions.create(
                        model="openai/primary", messages=[{"role": "user", "content": "hi"}])
                await gw.gateway.traces.flush()
                await read_traces(scorer.step, n)
                await runtime.score_alerts.settled(HANG_S)

            await calls("Thank you for asking!", 3)    # all pass: mean 1.0
            assert hook.requests == []
            await calls("No.", 5)                      # 3 of 8 pass: 0.375
            await hook.wait_for(1, timeout_s=HANG_S)
            await calls("No.", 2)                      # still below: not again
            await runtime.score_alerts.check()
    assert len(hook.requests) == 1
    assert "courtesy" in hook.requests[0].json()["text"]
    got = (await client.get(f"/score-alerts/{alert['id']}", headers=keys["vera"])).json()
    assert got["current"]["count"] == 10 and got["current"]["mean"] == pytest.approx(0.3)
    [firing] = (await client.get("/score-alerts/firings", headers=keys["vera"])).json()
    # the first check that saw the mean below: after the 7th score (3/7) or the 8th (3/8),
    # as the scorer's batches and the checks fell (never at 6: 3/6 is not below 0.5)
    assert firing["count"] in (7, 8) and firing["mean"] == pytest.approx(3 / firing["count"])
