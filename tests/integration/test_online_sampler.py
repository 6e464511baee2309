"""Online evaluation with the scorer as its own service, against real Postgres and the
registry's REST API in process: the registry's sampler records one ``TraceSampled`` per
trace an active evaluator selects and samples (none for a paused evaluator, other
traffic, or a re-read after a lost checkpoint); the scorer's ``score_sampled`` reads the
evaluator and the trace over HTTP, scores each pair once, skips a pair already scored (a
redelivery) without a judge call, drops a paused evaluator's or an unknown trace's message,
raises (so Pub/Sub redelivers) while the judge's provider is down, and records no score
for a judge call that fails the same way every time (a bad request)."""

from __future__ import annotations

import uuid

import pytest

from harness.evaluation.online import sample_event_id, sampled, score_event_id
from harness.llm import LLMClient, LLMError
from harness.tracing import feed
from services.gateway.config import GatewaySettings
from services.registry.online_sampler import CHECKPOINT, TraceSampler
from services.scorer.online import OnlineScorer
from services.scorer.remote import RegistryScoringSource
from services.worker_results import BatchingLocalSink
from tests.support.gateway import serve_gateway
from tests.support.online import read_traces
from tests.support.stub_llm import StubLLM

VERDICT = '{"pass": false, "score": 0.25, "reason": "curt"}'


async def _evaluator(client, body) -> str:
    r = await client.post("/evaluators", json=body)
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def _events(runtime, type_: str) -> list[tuple[str, str, uuid.UUID]]:
    rows = await runtime.pool.fetch(
        "SELECT data->>'trace_id' AS t, data->>'evaluator_id' AS e, event_id FROM events "
        "WHERE type = $1 ORDER BY global_position", type_)
    return [(r["t"], r["e"], r["event_id"]) for r in rows]


async def test_registry_samples_and_the_scorer_service_scores_each_pair_once(client, runtime):
    curt = await _evaluator(client, {
        "name": "curt", "assertion": {"type": "llm-rubric", "value": "is polite"},
        "judge_model": "openai/judge", "traffic": {"source": "gateway"}})
    half = await _evaluator(client, {"name": "hello", "sampling_rate": 0.5,
                                     "assertion": {"type": "contains", "value": "hello"}})
    other = await _evaluator(client, {"name": "other", "traffic": {"application": "elsewhere"},
                                      "assertion": {"type": "contains", "value": "x"}})
    paused = await _evaluator(client, {"name": "paused",
                                       "assertion": {"type": "contains", "value": "x"}})
    assert (await client.patch(f"/evaluators/{paused}", json={"status": "paused"})
            ).status_code == 200

    async with StubLLM() as stub:
        deployments = {"*": {"api_base": stub.base_url, "api_key": "sk-test"}}
        settings = GatewaySettings(deployments=deployments, trace_flush_s=0.05)
        # a distinct answer each: the judge's prompts differ (identical ones are cached)
        stub.reply("primary", lambda body: f"hello, about {body['messages'][-1]['content']}")
        async with serve_gateway(runtime, settings) as gw:
            sdk = gw.sdk(await gw.key("app"))
            for i in range(8):
                await sdk.chat.completions.create(
                    model="openai/primary", messages=[{"role": "user", "content": f"q{i}"}])
            await gw.gateway.traces.flush()
        traces = [str(r["id"]) for r in await runtime.pool.fetch(
            "SELECT id FROM gateway_traces WHERE source = 'gateway'")]
        assert len(traces) == 8
        expected = {(t, curt) for t in traces} | {
            (t, half) for t in traces if sampled(half, t, 0.5)}

        # how far behind the sampler is: the age of the oldest trace it has not read
        assert await feed.behind_s(runtime.pool, CHECKPOINT) > 0
        sampler = TraceSampler(runtime.pool, runtime.commands)
        await read_traces(sampler.step, 8)
        assert await feed.behind_s(runtime.pool, CHECKPOINT) == 0
        got = await _events(runtime, "TraceSampled")
        assert {(t, e) for t, e, _ in got} == expected and len(got) == len(expected)
        assert all(i == sample_event_id(e, t) for t, e, i in got)
        assert {other, paused}.isdisjoint({e for _, e, _ in got})
        assert sampler.sampled == len(expected)

        # a lost checkpoint: the sampler reads every trace again and records nothing new
        await runtime.pool.execute("DELETE FROM trace_feed_checkpoints WHERE name = $1",
                                   CHECKPOINT)
        again = TraceSampler(runtime.pool, runtime.commands)
        await read_traces(again.step, 8)
        assert again.sampled == 0 and len(await _events(runtime, "TraceSampled")) == len(got)

        # the scorer service: the evaluator and the trace from the registry's REST API
        stub.reply("judge", VERDICT)
        source = RegistryScoringSource("http://registry", client=client)
        scorer = OnlineScorer(llm=LLMClient(deployments=deployments),
                              sink=BatchingLocalSink(runtime.commands, actor="scorer"))
        outcomes = [await scorer.score_sampled(source, t, e) for t, e, _ in got]
        assert outcomes == ["scored"] * len(got)
        judged = stub.models_called().count("judge")
        assert judged == len(traces)  # "hello" calls no judge
        scores = await _events(runtime, "TraceScored")
        assert sorted((t, e) for t, e, _ in scores) == sorted(expected)
        assert all(i == score_event_id(e, t) for t, e, i in scores)
        trace = (await client.get(f"/traces/{traces[0]}")).json()
        assert ("curt", 0.25, "fail", f"evaluator:{curt}") in {
            (s["name"], s["value"], s["label"], s["actor"]) for s in trace["scores"]}

        # redelivered: already scored, no judge call, no event
        outcomes = [await scorer.score_sampled(source, t, e) for t, e, _ in got]
        assert outcomes == ["already_scored"] * len(got)
        assert stub.models_called().count("judge") == judged
        assert len(await _events(runtime, "TraceScored")) == len(expected)

        # a message of a trace that is not stored, or of an evaluator paused since
        assert await scorer.score_sampled(source, str(uuid.uuid4()), curt) == "trace_gone"
        await client.patch(f"/evaluators/{curt}", json={"status": "paused"})
        fresh = RegistryScoringSource("http://registry", client=client)  # no cached read
        assert await scorer.score_sampled(fresh, traces[0], curt) == "evaluator_inactive"

        # the judge's provider is down: the score raises (the message is nacked, Pub/Sub
        # delivers it again) and nothing is recorded
        strict = await _evaluator(client, {
            "name": "strict", "assertion": {"type": "llm-rubric", "value": "is exact"},
            "judge_model": "openai/judge"})
        quick = OnlineScorer(llm=LLMClient(deployments=deployments, backoff_base_s=0.001),
                             sink=BatchingLocalSink(runtime.commands, actor="scorer"))
        stub.fail_next(503, times=4, model="judge")  # the call and its 3 retries
        with pytest.raises(LLMError) as failed:
            await quick.score_sampled(fresh, traces[0], strict)
        assert failed.value.kind == "server"
        assert len(await _events(runtime, "TraceScored")) == len(expected)
        # a bad request fails the same way every time: no score, the message is done
        stub.fail_next(400, model="judge")
        assert await quick.score_sampled(fresh, traces[0], strict) == "score_error"
        # delivered again after the outage, it is scored
        assert await quick.score_sampled(fresh, traces[0], strict) == "scored"
        assert len(await _events(runtime, "TraceScored")) == len(expected) + 1
