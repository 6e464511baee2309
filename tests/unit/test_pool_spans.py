"""What a pool's parent does with a child's finished case (services.runner.pool): the
case span the child described is exported with exactly its ids, times and parent, and the
case's LLM call traces (sent in the same message) become its children; without a span
(export off) the calls keep the job's parent. No processes: the message handling only."""

from __future__ import annotations

from datetime import UTC, datetime

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanContext

from harness.tracing.otlp import _id_generator
from harness.tracing.record import Trace
from harness.tracing.spans import WorkflowSpans
from services.runner.pool import ShardPool

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SHARD = "00f067aa0ba902b7"
CASE = "1f2e3d4c5b6a7988"


def _call() -> Trace:
    return Trace(kind="chat", model_requested="echo", status=200, latency_ms=3.0,
                 created_at=datetime.now(UTC), source="runner")


def _payload(span: dict | None) -> dict:
    return {"result": {"case_id": "c1"}, "span": span, "calls": [_call(), _call()]}


def test_a_childs_case_span_is_exported_with_its_ids_and_its_calls_under_it():
    exporter = InMemorySpanExporter()
    provider = TracerProvider(id_generator=_id_generator())
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    queued: list[Trace] = []
    pool = ShardPool(2, on_trace=queued.append)
    pool.spans = WorkflowSpans(provider.get_tracer("test"))
    pool._case_done(None, _payload({
        "run_id": "r1", "case_id": "c1", "trace_id": TRACE, "span_id": CASE,
        "parent_span_id": SHARD, "start_ns": 1_000, "end_ns": 5_000,
        "input": {"q": "1"}, "output": "1",
        "facts": {"repeat": 0, "target_id": "t1", "model": "echo", "status": "pass",
                  "score": 1.0, "prompt_version": None}}))
    [span] = exporter.get_finished_spans()
    assert span.name == "evaluation case"
    assert (format(span.context.trace_id, "032x"), format(span.context.span_id, "016x"),
            format(span.parent.span_id, "016x")) == (TRACE, CASE, SHARD)
    assert (span.start_time, span.end_time) == (1_000, 5_000)
    a = span.attributes
    assert (a["harness.run_id"], a["harness.case_id"], a["harness.status"],
            a["session.id"]) == ("r1", "c1", "pass", "r1")
    assert "harness.prompt_version" not in a and a["output.value"] == "1"
    assert len(queued) == 2  # each call once
    assert {(format(t.parent.trace_id, "032x"), format(t.parent.span_id, "016x"))
            for t in queued} == {(TRACE, CASE)}
    provider.shutdown()


def test_without_a_case_span_the_calls_keep_the_jobs_parent():
    queued: list[Trace] = []
    pool = ShardPool(2, on_trace=queued.append)
    shard = SpanContext(int(TRACE, 16), int(SHARD, 16), is_remote=False)
    pool._case_done(shard, _payload(None))
    assert [t.parent for t in queued] == [shard, shard]
    pool._case_done(None, _payload(None))  # export off: nothing current
    assert [t.parent for t in queued[2:]] == [None, None]
