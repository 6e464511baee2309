"""The trace context carried on events (harness.tracing.context) and the spans that take
its ids (WorkflowSpans with the exporter's id generator), on an in-memory exporter."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from harness.tracing import context
from harness.tracing.otlp import _id_generator
from harness.tracing.spans import WorkflowSpans

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"


@pytest.mark.parametrize("header, expected", [
    (f"00-{TRACE}-{SPAN}-01", (TRACE, SPAN)),
    (f"00-{TRACE.upper()}-{SPAN}-00", (TRACE, SPAN)),   # not sampled: still its trace
    (f" 00-{TRACE}-{SPAN}-01 ", (TRACE, SPAN)),
    (f"ff-{TRACE}-{SPAN}-01", None),                   # the forbidden version
    (f"00-{'0' * 32}-{SPAN}-01", None),                # all-zero ids are invalid
    (f"00-{TRACE}-{'0' * 16}-01", None),
    (f"00-{TRACE[:-1]}-{SPAN}-01", None),
    ("garbage", None), ("", None), (None, None),
])
def test_traceparent_parsing(header, expected):
    assert context.parse_traceparent(header) == expected


def test_allocate_continues_a_callers_trace_or_starts_one():
    mine = context.allocate({"traceparent": f"00-{TRACE}-{SPAN}-01"})
    assert mine["trace_id"] == TRACE and mine["parent_span_id"] == SPAN
    assert len(mine["span_id"]) == 16 and mine["span_id"] != SPAN
    fresh = [context.allocate({"traceparent": "nonsense"}), context.allocate(None)]
    for ctx in fresh:
        assert set(ctx) == {"trace_id", "span_id"} and context.valid(ctx) == ctx
    assert fresh[0]["trace_id"] != fresh[1]["trace_id"]
    assert context.traceparent(mine) == f"00-{TRACE}-{mine['span_id']}-01"


@pytest.mark.parametrize("bad", [None, "x", {}, {"trace_id": TRACE},
                                 {"trace_id": TRACE, "span_id": "xyz"},
                                 {"trace_id": "0" * 31, "span_id": SPAN}])
def test_a_malformed_context_is_none(bad):
    assert context.valid(bad) is None


def test_valid_keeps_only_a_wellformed_parent():
    assert context.valid({"trace_id": TRACE, "span_id": SPAN, "parent_span_id": "no"}) == {
        "trace_id": TRACE, "span_id": SPAN}


@pytest.fixture
def recorded():
    exporter = InMemorySpanExporter()
    provider = TracerProvider(id_generator=_id_generator())
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    spans = WorkflowSpans(provider.get_tracer("test"))
    yield spans, exporter
    provider.shutdown()


def _hex(ctx) -> tuple[str, str]:
    return format(ctx.trace_id, "032x"), format(ctx.span_id, "016x")


def test_a_run_span_has_the_ids_its_request_recorded(recorded):
    spans, exporter = recorded
    ctx = context.allocate({"traceparent": f"00-{TRACE}-{SPAN}-01"})
    with spans.run("run-1", trace=ctx) as run:
        assert run.context() == {"trace_id": TRACE, "span_id": ctx["span_id"]}
        with spans.case("run-1", "case-1") as case:
            case_ctx = case.context()
    with spans.case("run-1", "case-1", name="scoring case", kind="EVALUATOR",
                    parent=case_ctx):  # later, elsewhere: under the runner's case span
        with spans.span("judge", {}):
            pass
    by_name = {s.name: s for s in exporter.get_finished_spans()}
    run_span = by_name["evaluation run"]
    assert _hex(run_span.context) == (TRACE, ctx["span_id"])
    assert format(run_span.parent.span_id, "016x") == SPAN and run_span.parent.is_remote
    case_span, scoring = by_name["evaluation case"], by_name["scoring case"]
    assert case_span.parent.span_id == run_span.context.span_id
    assert scoring.parent.span_id == case_span.context.span_id
    assert by_name["judge"].parent.span_id == scoring.context.span_id
    assert {_hex(s.context)[0] for s in by_name.values()} == {TRACE}
    # only the run's span took preset ids: the others are fresh and distinct
    assert len({s.context.span_id for s in by_name.values()}) == 4


def test_without_a_caller_the_run_span_is_the_root_of_its_trace(recorded):
    spans, exporter = recorded
    ctx = context.allocate()
    with spans.span("something current", {}):  # e.g. where the bus delivered the event
        with spans.run("run-2", trace=ctx):
            pass
        with spans.run("run-2", trace=ctx, span_name="evaluation shard", shard=1):
            pass
        with spans.run("run-3"):  # recorded before runs carried a context: a new trace
            pass
    by_name = {s.name: s for s in exporter.get_finished_spans()
               if s.attributes.get("harness.run_id") != "run-3"}
    run, shard = by_name["evaluation run"], by_name["evaluation shard"]
    assert run.parent is None and _hex(run.context) == (ctx["trace_id"], ctx["span_id"])
    assert shard.parent.span_id == run.context.span_id
    assert shard.context.trace_id == run.context.trace_id
    assert shard.attributes["harness.shard"] == 1
    assert "langfuse.trace.name" not in shard.attributes  # a part does not rename the trace
    others = [s for s in exporter.get_finished_spans() if s.attributes.get(
        "harness.run_id") == "run-3"]
    assert len(others) == 1 and others[0].parent is None
    assert others[0].context.trace_id not in {run.context.trace_id,
                                              by_name["something current"].context.trace_id}


def test_a_stored_span_is_a_context_only_when_both_ids_are_well_formed():
    from harness.tracing.context import of_span

    assert of_span("a" * 32, "b" * 16) == {"trace_id": "a" * 32, "span_id": "b" * 16}
    assert of_span(None, None) is None
    assert of_span("a" * 32, None) is None
    assert of_span("A" * 32, "b" * 16) is None  # stored lowercase: anything else is not ours
