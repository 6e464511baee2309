"""One trace per unit of work, read as the OTLP/HTTP protobuf a local receiver got: a run
split in shards (run → shard → case → LLM call, every span in the trace its
``RunRequested`` names), a generation continuing the ``traceparent`` of the request that
asked for it, and a malformed ``traceparent`` ignored (a new trace), not refused.
(The unsharded run with its scoring, and the gateway, are test_otel_export.py's.)"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from services.bootstrap import LocalStack
from tests.support.generation import qa_reply, wait_generation
from tests.support.http_receiver import HttpReceiver
from tests.support.otel import (
    ReceivedSpan,
    children,
    decode_spans,
    llm_client,
    only,
    wait_scored,
)
from tests.support.runs import seed, wait_run

DATA = Path(__file__).resolve().parents[1] / "data" / "generation"
CALLER_TRACE_ID = "5d0e5b1a3c9f47e2b6a8d4c2e1f0a9b8"
CALLER_SPAN_ID = "1f2e3d4c5b6a7988"


@pytest.fixture
async def exporting(db_url, artifacts, stub_server, setenv):
    """(a client of a local stack exporting to a receiver, the stack, the receiver)."""
    from services.registry.app import create_app

    stub_server.reset()
    stub_server.usage("answer", 12, 5)
    stub_server.reply("writer", qa_reply)
    setenv("OPENAI_API_KEY", "sk-test")
    setenv("HARNESS_RUN_SHARD_ITEMS", "1")  # a case per shard
    with HttpReceiver() as collector:
        setenv("HARNESS_OTLP_ENDPOINT", collector.url)
        stack = await LocalStack.start(db_url, artifacts=artifacts, pool_max=20,
                                       llm=llm_client(stub_server))
        try:
            transport = httpx.ASGITransport(app=create_app(runtime=stack.runtime))
            async with httpx.AsyncClient(transport=transport, base_url="http://registry") as c:
                yield c, stack, collector
        finally:
            await stack.stop()


async def _spans(stack, collector) -> list[ReceivedSpan]:
    await stack.traces.flush()
    for exporter in stack.traces.exporters:
        assert await asyncio.to_thread(exporter.force_flush)
    return decode_spans(r.body for r in collector.requests)


async def test_a_sharded_run_is_one_trace(exporting):
    c, stack, collector = exporting
    p, ds = await seed(c, cases=[{"input": {"q": str(i)}} for i in range(3)],
                       versions=["Answer {{ q }}"], name="sharded")
    r = await c.post("/runs", json={"dataset_id": ds["id"], "targets": [
        {"prompt_id": p["id"], "model": "openai/answer"}]},
        headers={"traceparent": "00-not-a-trace-context-01"})  # ignored: a new trace
    assert r.status_code == 202, r.text
    run = await wait_run(c, r.json()["id"])
    assert run["status"] == "completed", run
    ctx = run["config"]["trace_context"]
    assert set(ctx) == {"trace_id", "span_id"}  # no caller: the run's span is the root
    spans = await _spans(stack, collector)

    root = only(spans, "evaluation run")
    assert (root.trace_id, root.span_id, root.parent_id) == (ctx["trace_id"], ctx["span_id"],
                                                             None)
    shards = children(spans, root)
    assert sorted(s.attributes["harness.shard"] for s in shards) == [0, 1, 2]
    assert {s.name for s in shards} == {"evaluation shard"}
    cases = [x for s in shards for x in children(spans, s)]
    assert [x.name for x in cases] == ["evaluation case"] * 3
    calls = [x for case in cases for x in children(spans, case)]
    assert [x.name for x in calls] == ["chat openai/answer"] * 3
    assert {s.trace_id for s in spans} == {ctx["trace_id"]}
    results = (await c.get(f"/runs/{run['id']}/results")).json()["items"]
    assert {(x["trace_context"]["trace_id"], x["trace_context"]["span_id"])
            for x in results} == {(x.trace_id, x.span_id) for x in cases}


async def test_a_generation_continues_the_trace_of_its_request(exporting):
    c, stack, collector = exporting
    ds = (await c.post("/datasets", json={"name": "synthetic"})).json()
    r = await c.post(f"/datasets/{ds['id']}/generate",
                     data={"model": "openai/writer", "num_questions": "3"},
                     files=[("files", ("shipping.txt", (DATA / "shipping.txt").read_bytes(),
                                       "text/plain"))],
                     headers={"traceparent": f"00-{CALLER_TRACE_ID}-{CALLER_SPAN_ID}-01"})
    assert r.status_code == 202, r.text
    done = await wait_generation(c, r.json()["id"])
    assert done["status"] == "completed" and done["generated"] == 3, done
    spans = await _spans(stack, collector)

    generation = only(spans, "generation")
    assert (generation.trace_id, generation.parent_id) == (CALLER_TRACE_ID, CALLER_SPAN_ID)
    assert generation.attributes["harness.generation_id"] == done["id"]
    calls = children(spans, generation)
    assert [x.name for x in calls] == ["chat openai/writer"] * 3
    assert {s.trace_id for s in spans} == {CALLER_TRACE_ID}


async def test_a_pool_of_processes_makes_the_same_spans_as_one_process(
        db_url, artifacts, stub_server, setenv):
    """``--workers 2``: a shard's cases run in child processes, which export nothing; each
    child sends its case's span and the case's LLM calls with the result, and the parent
    exports them: run → shard → case → LLM call, as in one process, each result records
    its case's span, and the scorer's judge calls nest under the case they score."""
    from services.registry.app import create_app
    from tests.support.ragas_judge import PARIS, judge_reply

    stub_server.reset()
    stub_server.reply("judge", judge_reply)
    setenv("OPENAI_API_KEY", "sk-test")
    setenv("HARNESS_RUN_SHARD_ITEMS", "2")
    with HttpReceiver() as collector:
        setenv("HARNESS_OTLP_ENDPOINT", collector.url)
        stack = await LocalStack.start(db_url, artifacts=artifacts, pool_max=20, workers=2,
                                       llm=llm_client(stub_server))
        try:
            transport = httpx.ASGITransport(app=create_app(runtime=stack.runtime))
            async with httpx.AsyncClient(transport=transport, base_url="http://registry") as c:
                p, ds = await seed(c, cases=[{"input": {"question": f"Paris {i}?",
                                                        "contexts": [PARIS]}}
                                             for i in range(4)],
                                   versions=["{{ question }}"], name="pooled")
                r = await c.post("/runs", json={"dataset_id": ds["id"], "targets": [
                    {"prompt_id": p["id"], "model": "echo"}],
                    "metrics": ["faithfulness"], "judge_model": "openai/judge"})
                assert r.status_code == 202, r.text
                run = await wait_scored(c, r.json()["id"])
                results = (await c.get(f"/runs/{run['id']}/results")).json()["items"]
            assert run["status"] == "completed", run
            spans = await _spans(stack, collector)
        finally:
            await stack.stop()

    assert stack.runner.pool is not None  # the cases did run in the pool's processes
    root = only(spans, "evaluation run")
    assert root.span_id == run["config"]["trace_context"]["span_id"]
    shards = [s for s in children(spans, root) if s.name == "evaluation shard"]
    assert sorted(s.attributes["harness.shard"] for s in shards) == [0, 1]
    cases = [x for s in shards for x in children(spans, s)]
    assert [x.name for x in cases] == ["evaluation case"] * 4  # nothing else under a shard
    assert len({x.span_id for x in cases}) == 4
    assert all(x.attributes["harness.run_id"] == run["id"] and x.attributes["harness.model"]
               == "echo" and x.attributes["harness.status"] == "pass" for x in cases)
    assert all(x.start_ns < x.end_ns for x in cases)
    for case in cases:
        under = sorted(x.name for x in children(spans, case))
        assert under == ["chat echo", "scoring case"], under
        [scored] = [x for x in children(spans, case) if x.name == "scoring case"]
        judged = children(spans, scored)
        assert judged and {j.name for j in judged} == {"chat openai/judge"}
        [call] = [x for x in children(spans, case) if x.name == "chat echo"]
        assert case.start_ns <= call.start_ns and call.end_ns <= case.end_ns
    # the results record the spans of their cases, as in one process
    assert sorted((x["trace_context"]["trace_id"], x["trace_context"]["span_id"])
                  for x in results) == sorted((x.trace_id, x.span_id) for x in cases)
    assert {s.trace_id for s in spans} == {root.trace_id}
    assert len([s for s in spans if s.name == "chat echo"]) == 4  # none twice


class _Sampled:
    """The registry's answers for one sampled trace (SampledTraces)."""

    def __init__(self, evaluator, trace) -> None:
        self._evaluator, self._trace = evaluator, trace

    async def evaluator(self, evaluator_id: str):
        return self._evaluator

    async def trace(self, trace_id: str):
        return self._trace, set()


class _Kept:
    """A ResultSink that keeps what it is given."""

    def __init__(self) -> None:
        self.events: list = []

    async def publish(self, stream_id, event, event_id) -> None:
        self.events.append(event)

    async def flush(self) -> None:
        pass


async def _score_sampled(stub_server, trace_context):
    """An online score through the scorer's service path (score_sampled, the trace as
    GET /traces/{id} answers it), exported to a receiver: (the event, the spans)."""
    import json
    import uuid

    from harness.tracing.llm_calls import CallExporter
    from harness.tracing.otlp import OtlpExporter
    from services.scorer.online import OnlineScorer
    from services.scorer.ports import FedTrace, OnlineEvaluator

    stub_server.reset()
    stub_server.reply("rubric", json.dumps({"pass": True, "score": 1.0, "reason": "polite"}))
    trace_id = str(uuid.uuid4())
    trace = FedTrace.model_validate({
        "id": trace_id, "source": "gateway", "model_requested": "openai/answer",
        "request": {"messages": [{"role": "user", "content": "Say hi"}]},
        "response": {"content": "Hello there!"}, "trace_context": trace_context})
    evaluator = OnlineEvaluator(id="ev-1", name="polite", assertion={
        "type": "llm-rubric", "value": "is polite", "provider": "openai:chat:rubric"})
    with HttpReceiver() as collector:
        exporter = OtlpExporter(collector.url, service_name="harness-scorer")
        llm = llm_client(stub_server)
        llm.observers.append(CallExporter(exporter, source="scorer"))
        sink = _Kept()
        scorer = OnlineScorer(llm=llm, sink=sink)
        assert await scorer.score_sampled(_Sampled(evaluator, (trace)), trace_id,
                                          "ev-1") == "scored"
        assert exporter.force_flush()
        exporter.shutdown()
        spans = decode_spans(r.body for r in collector.requests)
    [event] = sink.events
    assert event.value == 1.0 and event.label == "pass"
    scoring = only(spans, "online evaluation")
    a = scoring.attributes
    assert a["harness.scored_trace_id"] == trace_id and a["harness.evaluator"] == "polite"
    assert a["openinference.span.kind"] == "EVALUATOR"
    assert json.loads(a["output.value"])["label"] == "pass"
    assert [s.name for s in children(spans, scoring)] == ["chat openai/rubric"]
    assert len(spans) == 2
    return scoring


async def test_an_online_score_is_a_trace_with_its_judge_calls_under_it(stub_server):
    """A stored trace without the span of its call (recorded before, or nothing current):
    the score is a trace of its own."""
    scoring = await _score_sampled(stub_server, None)
    assert scoring.parent_id is None and scoring.kind == "INTERNAL"
    assert scoring.attributes["langfuse.trace.name"] == "online evaluation"


async def test_an_online_score_nests_under_the_span_of_the_call_it_scores(stub_server):
    scoring = await _score_sampled(stub_server, {"trace_id": CALLER_TRACE_ID,
                                                 "span_id": CALLER_SPAN_ID})
    assert (scoring.trace_id, scoring.parent_id) == (CALLER_TRACE_ID, CALLER_SPAN_ID)
    assert "langfuse.trace.name" not in scoring.attributes  # the call's trace keeps its name


async def test_a_gateway_call_keeps_its_span_and_its_online_score_joins_it(
        exporting, stub_server):
    """The gateway stores the span of each call (GET /traces/{id}: trace_context): the
    caller's trace continued, or a trace of its own; the local stack's online scorer
    makes its ``online evaluation`` span a child of that span, its judge call under it."""
    import json

    from services.gateway.config import GatewaySettings
    from services.scorer.ports import FedTrace
    from tests.support.gateway import serve_gateway

    c, stack, collector = exporting
    stub_server.reply("rubric", json.dumps({"pass": True, "score": 0.5, "reason": "ok"}))
    r = await c.post("/evaluators", json={
        "name": "polite", "assertion": {"type": "llm-rubric", "value": "is polite",
                                        "provider": "openai:chat:rubric"},
        "traffic": {"source": "gateway"}})
    assert r.status_code == 201, r.text
    settings = GatewaySettings(
        deployments={"*": {"api_base": stub_server.base_url, "api_key": "sk-test"}},
        num_retries=0, trace_flush_s=0.02, otlp_endpoint=collector.url)
    async with serve_gateway(stack.runtime, settings) as gw:
        sdk = gw.sdk(await gw.key("one-trace"))
        ids = []
        for headers in ({"traceparent": f"00-{CALLER_TRACE_ID}-{CALLER_SPAN_ID}-01"}, {}):
            raw = await sdk.chat.completions.with_raw_response.create(
                model="openai/answer", messages=[{"role": "user", "content": "hi"}],
                extra_headers=headers)
            ids.append(raw.headers["x-harness-trace-id"])
        await gw.gateway.traces.flush()
        for exporter in gw.gateway.traces.exporters:
            assert await asyncio.to_thread(exporter.force_flush)
    async with asyncio.timeout(60):  # a hang guard: the stack's scorer polls the feed
        while True:
            shown = [(await c.get(f"/traces/{i}")).json() for i in ids]
            if all(t["scores"] for t in shown):
                break
            await asyncio.sleep(0.05)
    spans = await _spans(stack, collector)

    requests = {s.span_id: s for s in spans if s.name == "POST /v1/chat/completions"}
    continued, own = (requests[t["trace_context"]["span_id"]] for t in shown)
    assert (continued.trace_id, continued.parent_id) == (CALLER_TRACE_ID, CALLER_SPAN_ID)
    assert own.parent_id is None and own.trace_id != CALLER_TRACE_ID
    for t, request in zip(shown, (continued, own), strict=True):
        assert t["trace_context"] == {"trace_id": request.trace_id,
                                      "span_id": request.span_id}
        # what the scorer service reads (GET /traces/{id}) carries it to its span
        assert FedTrace.model_validate(t).trace_context == t["trace_context"]
        under = children(spans, request)
        assert sorted(x.name for x in under) == ["chat openai/answer", "online evaluation"]
        [scoring] = [x for x in under if x.name == "online evaluation"]
        assert scoring.attributes["harness.scored_trace_id"] == t["id"]
        assert json.loads(scoring.attributes["output.value"])["value"] == 0.5
        assert [x.name for x in children(spans, scoring)] == ["chat openai/rubric"]
    assert len([s for s in spans if s.name == "online evaluation"]) == 2  # once each
