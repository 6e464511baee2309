"""OpenTelemetry export of a whole workload, read as the OTLP/HTTP protobuf a local
receiver got: a run is one trace continuing the request that created it (run → case →
LLM call, and the scorer's judge calls under the case), a gateway request → LLM call
continues the caller's traceparent; each span carries the GenAI conventions, the names
Langfuse maps and OpenInference's. (Phoenix reads the same spans back in
test_phoenix.py.)"""

from __future__ import annotations

import json
from collections import Counter

import pytest

from services.bootstrap import LocalStack
from tests.support.http_receiver import HttpReceiver
from tests.support.otel import (
    CALLER_SPAN_ID,
    CALLER_TRACE_ID,
    RUN_CALLER_SPAN_ID,
    RUN_CALLER_TRACE_ID,
    RUN_TRACEPARENT,
    ReceivedSpan,
    check_one_run_trace,
    children,
    decode_spans,
    llm_client,
    only,
    run_harness_eval,
    run_workload,
    stub_models,
)


@pytest.fixture
async def exported(db_url, artifacts, stub_server, setenv):
    """(the workload, every span the receiver got)."""
    stub_models(stub_server)
    setenv("OPENAI_API_KEY", "sk-test")  # the runs' credential check; the stub ignores it
    with HttpReceiver() as collector:
        setenv("HARNESS_OTLP_ENDPOINT", collector.url)
        setenv("HARNESS_OTEL_PROJECT", "harness-tests")
        setenv("HARNESS_OTEL_ENVIRONMENT", "ci")
        stack = await LocalStack.start(db_url, artifacts=artifacts, pool_max=20,
                                       llm=llm_client(stub_server))
        try:
            work = await run_workload(stack, stub_server, collector.url)
        finally:
            await stack.stop()
        assert all(r.path == "/v1/traces" for r in collector.requests)
        yield work, decode_spans(r.body for r in collector.requests)


def check_run_spans(work, spans: list[ReceivedSpan]) -> None:
    """run → case → LLM call and judge call, with their attributes."""
    run = only(spans, "evaluation run")
    assert run.parent_id == RUN_CALLER_SPAN_ID  # the request that created the run
    assert run.resource["service.name"] == "harness-runner"
    assert run.resource["service.version"] and run.resource["service.namespace"] == "harness"
    assert run.resource["openinference.project.name"] == "harness-tests"
    assert run.resource["deployment.environment.name"] == "ci"
    assert run.attributes["openinference.span.kind"] == "CHAIN"
    assert run.attributes["session.id"] == run.attributes["harness.run_id"] == work.run_id
    # a run's span covers its shard's work (the registry decides the verdict later)
    assert json.loads(run.attributes["output.value"]) == {"recorded": 2}
    cases = [c for c in children(spans, run) if c.name == "evaluation case"]
    assert len(cases) == 2
    calls = {c.attributes["harness.case_id"]: sorted(x.name for x in children(spans, c)
                                                     if x.kind == "CLIENT")
             for c in cases}
    assert sorted(calls.values()) == [["chat openai/answer"],
                                      ["chat openai/answer", "chat openai/rubric"]]
    answer = next(s for c in cases for s in children(spans, c)
                  if s.name == "chat openai/answer")
    a = answer.attributes
    assert answer.kind == "CLIENT" and answer.status == "UNSET"
    assert a["gen_ai.operation.name"] == "chat" and a["gen_ai.provider.name"] == "openai"
    assert a["gen_ai.usage.input_tokens"] == 12 and a["gen_ai.usage.output_tokens"] == 5
    assert a["llm.token_count.prompt"] == 12 and a["llm.token_count.total"] == 17
    assert a["llm.cost.total"] == pytest.approx(12e-6 + 10e-6)
    assert json.loads(a["langfuse.observation.cost_details"])["total"] == \
        pytest.approx(22e-6)
    assert a["langfuse.observation.type"] == "generation"
    assert a["langfuse.observation.prompt.name"] == work.prompt_name
    assert a["langfuse.observation.prompt.version"] == 1
    assert a["harness.purpose"] == "case" and a["session.id"] == work.run_id
    assert "Answer briefly:" in a["input.value"] and a["output.value"]
    assert "kim@example.com" not in json.dumps(
        [s.attributes for s in spans])  # masked by default
    rubric = only(spans, "chat openai/rubric")
    assert rubric.attributes["harness.purpose"] == "judge"


def check_scoring_spans(work, spans: list[ReceivedSpan]) -> None:
    """scoring run under the run; a scored case under the case it scores → judge calls."""
    scoring = only(spans, "scoring run")
    assert scoring.parent_id == only(spans, "evaluation run").span_id
    assert scoring.resource["service.name"] == "harness-runner"  # the stack's one client
    assert scoring.attributes["session.id"] == work.run_id
    cases = [s for s in spans if s.name == "scoring case"]
    assert len(cases) == 2
    assert all(c.attributes["openinference.span.kind"] == "EVALUATOR" for c in cases)
    assert all(c.attributes["langfuse.observation.type"] == "evaluator" for c in cases)
    judged = [s for c in cases for s in children(spans, c)]
    assert judged and {s.name for s in judged} == {"chat openai/judge"}
    assert all(s.attributes["gen_ai.usage.input_tokens"] == 100 for s in judged)
    assert "faithfulness" in cases[0].attributes["output.value"]


def check_gateway_spans(work, spans: list[ReceivedSpan]) -> None:
    """request → LLM call, continuing the caller's traceparent."""
    requests = [s for s in spans if s.name == "POST /v1/chat/completions"]
    assert len(requests) == 3 and all(s.kind == "SERVER" for s in requests)
    assert all(s.resource["service.name"] == "harness-gateway" for s in requests)
    [continued] = [s for s in requests if s.trace_id == CALLER_TRACE_ID]
    assert continued.parent_id == CALLER_SPAN_ID
    assert continued.attributes["http.response.status_code"] == 200
    [call] = children(spans, continued)
    a = call.attributes
    assert call.name == "chat openai/answer"
    assert a["harness.trace_id"] == work.gateway_trace_ids[0]
    assert a["user.id"] == "user-7" and a["session.id"] == "session-1"
    assert a["langfuse.observation.output"] and a["gen_ai.usage.output_tokens"] == 5
    others = [s for s in requests if s is not continued]
    assert all(s.parent_id is None for s in others)
    streamed, app = sorted((children(spans, s)[0] for s in others),
                           key=lambda s: s.name)[::-1]
    assert streamed.attributes["gen_ai.request.stream"] is True
    assert app.name == "chat app/otel-app"
    assert app.attributes["langfuse.observation.prompt.name"] == work.prompt_name
    assert app.attributes["langfuse.observation.prompt.version"] == 1
    assert app.attributes["harness.application"] == "otel-app"


def check_every_llm_call_has_a_parent(spans: list[ReceivedSpan]) -> None:
    names = Counter(s.name for s in spans)
    assert names["evaluation run"] == names["scoring run"] == 1
    by_id = {s.span_id for s in spans}
    llm = [s for s in spans if s.kind == "CLIENT"]
    assert llm and all(s.parent_id in by_id for s in llm)


async def test_export_nests_runs_cases_requests_and_llm_calls(exported):
    work, spans = exported
    check_one_run_trace(work, spans)
    check_run_spans(work, spans)
    check_scoring_spans(work, spans)
    check_gateway_spans(work, spans)
    check_every_llm_call_has_a_parent(spans)


async def test_harness_eval_exports_its_run_cases_and_calls(tmp_path, stub_server):
    stub_models(stub_server)
    with HttpReceiver() as collector:  # started by a traced CI step (TRACEPARENT)
        await run_harness_eval(tmp_path, stub_server, collector.url,
                               TRACEPARENT=RUN_TRACEPARENT)
    spans = decode_spans(r.body for r in collector.requests)
    run = only(spans, "evaluation run")
    assert (run.trace_id, run.parent_id) == (RUN_CALLER_TRACE_ID, RUN_CALLER_SPAN_ID)
    assert {s.trace_id for s in spans} == {RUN_CALLER_TRACE_ID}
    assert run.resource["service.name"] == "harness-eval"
    assert json.loads(run.attributes["output.value"]) == {"pass": 2, "fail": 0, "error": 0}
    cases = children(spans, run)
    assert [c.name for c in cases] == ["evaluation case"] * 2
    calls = [s for c in cases for s in children(spans, c)]
    assert [s.name for s in calls] == ["chat openai/answer"] * 2
    assert all(s.attributes["gen_ai.usage.input_tokens"] == 12 for s in calls)
    assert all(s.attributes["input.value"] and s.attributes["output.value"] for s in calls)
    assert len(spans) == 5


class _Seen:
    """An exporter that keeps the response text of each trace it was handed."""

    def __init__(self, wants_unmasked: bool) -> None:
        self.wants_unmasked = wants_unmasked
        self.texts: list[str] = []

    def export(self, batch) -> None:
        self.texts += [t.response["content"] for t in batch]

    def shutdown(self) -> None:
        pass


async def test_full_content_is_exported_before_the_stored_bodies_are_masked(pool):
    from harness.tracing import Trace, TraceWriter

    full, masked = _Seen(wants_unmasked=True), _Seen(wants_unmasked=False)
    writer = TraceWriter(pool, exporters=[masked, full])
    writer.add(Trace(kind="chat", model_requested="m", status=200, latency_ms=1,
                     source="runner", response={"content": "mail kim@example.com"},
                     mask_bodies=True))
    await writer.flush()
    await writer.stop()
    assert full.texts == ["mail kim@example.com"]
    assert masked.texts == ["mail [EMAIL]"]
    stored = await pool.fetchval("SELECT response->>'content' FROM gateway_traces")
    assert stored == "mail [EMAIL]"
