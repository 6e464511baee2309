"""Online evaluation against real Postgres: a trace written through the gateway is scored
by the active evaluator that selects it (an ``llm-rubric`` judged by the stub LLM), not by
a paused one nor one selecting other traffic; the score shows in ``GET /traces/{id}``; a
restart that re-reads the trace, and a redelivered score, record it once (events counted)
and call no judge again."""

from __future__ import annotations

from harness import metrics
from harness.evaluation.online import score_event_id
from harness.events import streams
from harness.llm import LLMClient
from services.gateway.config import GatewaySettings
from services.scorer.local import LocalTraceFeed
from services.scorer.online import CHECKPOINT, OnlineScorer
from services.worker_results import BatchingLocalSink
from tests.support.gateway import serve_gateway
from tests.support.online import read_traces
from tests.support.stub_llm import StubLLM

VERDICT = '{"pass": true, "score": 0.75, "reason": "polite enough"}'


async def _evaluator(client, body) -> dict:
    r = await client.post("/evaluators", json=body)
    assert r.status_code == 201, r.text
    return r.json()


async def test_live_traffic_is_scored_once_by_matching_active_evaluators(client, runtime):
    polite = await _evaluator(client, {
        "name": "polite", "assertion": {"type": "llm-rubric", "value": "is polite"},
        "judge_model": "openai/judge", "traffic": {"source": "gateway", "model": "openai/primary"}})
    other = await _evaluator(client, {"name": "other-app", "assertion": {
        "type": "contains", "value": "hello"}, "traffic": {"application": "elsewhere"}})
    paused = await _evaluator(client, {"name": "paused", "assertion": {
        "type": "contains", "value": "hello"}})
    r = await client.patch(f"/evaluators/{paused['id']}", json={"status": "paused"})
    assert r.json()["status"] == "paused"
    never = await _evaluator(client, {"name": "never", "sampling_rate": 0, "assertion": {
        "type": "contains", "value": "hello"}})

    async with StubLLM() as stub:
        deployments = {"*": {"api_base": stub.base_url, "api_key": "sk-test"}}
        settings = GatewaySettings(deployments=deployments, trace_flush_s=0.05)
        async with serve_gateway(runtime, settings) as gw:
            key = await gw.key("app")
            stub.script("primary", "hello, happy to help")
            await gw.sdk(key).chat.completions.create(
                model="openai/primary", messages=[{"role": "user", "content": "help me"}])
            await gw.gateway.traces.flush()
        stub.reply("judge", VERDICT)

        def scorer() -> OnlineScorer:
            return OnlineScorer(llm=LLMClient(deployments=deployments),
                                feed=LocalTraceFeed(runtime.pool),
                                sink=BatchingLocalSink(runtime.commands, actor="scorer"))

        first = scorer()
        await read_traces(first.step, 1)
        judged = len(stub.chat_requests)
        assert stub.models_called()[-1] == "judge" and judged == 2  # the call, one judge

        [trace] = (await client.get("/traces")).json()["items"]
        events = await runtime.store.read_stream(streams.trace(trace["id"]))
        assert [(e.type, e.data["name"], e.data["value"]) for e in events] == [
            ("TraceScored", "polite", 0.75)]
        assert events[0].data["source"] == "evaluator"
        assert events[0].data["evaluator_id"] == polite["id"]
        assert events[0].event_id == score_event_id(polite["id"], trace["id"])
        # a gauge per evaluator (by name) for dashboards and alerts on quality
        exposed = metrics.exposition().decode()
        assert 'harness_scorer_online_score_mean{evaluator="polite"} 0.75' in exposed
        assert 'harness_scorer_online_scores_total{evaluator="polite",status="ok"}' in exposed
        assert 'evaluator="paused"' not in exposed
        shown = (await client.get(f"/traces/{trace['id']}")).json()["scores"]
        assert [(s["name"], s["source"], s["value"], s["label"], s["actor"]) for s in shown] == [
            ("polite", "evaluator", 0.75, "pass", f"evaluator:{polite['id']}")]
        async def below(**params) -> list[str]:
            r = await client.get("/traces", params=params)
            assert r.status_code == 200, r.text
            return [t["id"] for t in r.json()["items"]]

        assert await below(score_below=0.8) == [trace["id"]]
        assert await below(score_below=0.8, score_name="polite") == [trace["id"]]
        assert await below(score_below=0.5) == []
        assert await below(score_below=0.8, score_name="paused") == []
        assert {other["id"], paused["id"], never["id"]}.isdisjoint(
            {e.data["evaluator_id"] for e in events})

        # the mean score per prompt version and model, in the usage metrics
        async with serve_gateway(runtime, settings) as gw, gw.http() as h:
            r = await h.get("/metrics/usage", params={"source": "gateway"})
        assert r.status_code == 200, r.text
        assert [(s["model"], s["name"], s["source"], s["mean"], s["count"])
                for s in r.json()["scores"]] == [("openai/primary", "polite", "evaluator",
                                                  0.75, 1)]

        # a restart before the checkpoint was saved reads the trace again: no judge call,
        # no second score
        await runtime.pool.execute("DELETE FROM trace_feed_checkpoints WHERE name = $1",
                                   CHECKPOINT)
        again = scorer()
        await read_traces(again.step, 1)
        assert again.recorded == 0 and len(stub.chat_requests) == judged
        # a score delivered twice (same deterministic id) is stored once
        sink = BatchingLocalSink(runtime.commands, actor="scorer")
        await sink.publish(streams.trace(trace["id"]), first_event(events[0]),
                           events[0].event_id)
        await sink.flush()
        assert len(await runtime.store.read_stream(streams.trace(trace["id"]))) == 1

        # resumed, the paused evaluator scores new traffic only: the trace is behind it
        await client.patch(f"/evaluators/{paused['id']}", json={"status": "active"})
        assert await again.step() == 0
        assert len(await runtime.store.read_stream(streams.trace(trace["id"]))) == 1


def first_event(stored):
    from harness.events.feedback_events import TraceScored

    return TraceScored.model_validate(stored.data)
