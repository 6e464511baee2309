"""A run is one trace across processes: the registry, the runner and the scorer as separate
processes over Google's Pub/Sub fake, each exporting OTLP to one local receiver. The run
requested with a caller's ``traceparent`` is continued by the runner (its span a child of
the caller's), and the scorer, which scores after the run completes in its own process,
puts each judged result under the runner's span of that case."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.e2e.conftest import process_stack, stack_stub
from tests.support.http_receiver import HttpReceiver
from tests.support.otel import ReceivedSpan, children, decode_spans, only
from tests.support.ragas_judge import PARIS, judge_reply

CALLER_TRACE_ID = "7e57ab1e0c0ffee0d15ea5e5b01dface"
CALLER_SPAN_ID = "a1b2c3d4e5f60718"


@pytest.fixture
def traced(db_url, tmp_path, monkeypatch):
    with HttpReceiver() as collector, process_stack(
            db_url, tmp_path, monkeypatch, workers=("scorer",),
            extra_env={"HARNESS_OTLP_ENDPOINT": collector.url}) as services:
        yield services, collector


def received(collector, names: dict[str, int], timeout_s: float = 120) -> list[ReceivedSpan]:
    """Every span received once at least ``names[name]`` spans of each name are in (each
    process exports in batches of its own)."""
    deadline = time.monotonic() + timeout_s  # a hang guard
    while True:
        spans = decode_spans(r.body for r in list(collector.requests))
        if all(sum(s.name == n for s in spans) >= k for n, k in names.items()):
            return spans
        assert time.monotonic() < deadline, sorted(s.name for s in spans)
        time.sleep(0.2)


def test_the_runner_and_the_scorer_processes_export_one_trace(traced):
    stack, collector = traced
    c = httpx.Client(base_url=stack["registry"].url, timeout=30)
    with stack_stub(stack) as stub:
        stub.reply("judge", judge_reply)
        p = c.post("/prompts", json={"name": "rag", "content": "{{ answer }}"}).json()
        ds = c.post("/datasets", json={"name": "rag-data"}).json()
        c.post(f"/datasets/{ds['id']}/cases", json={"cases": [
            {"input": {"question": "Paris?", "answer": a, "contexts": [PARIS]}}
            for a in ("Paris is the capital of France.", "Paris is in Germany.")]}
        ).raise_for_status()
        r = c.post("/runs", json={
            "dataset_id": ds["id"], "targets": [{"prompt_id": p["id"], "model": "echo"}],
            "metrics": ["faithfulness"], "judge_model": "openai/judge"},
            headers={"traceparent": f"00-{CALLER_TRACE_ID}-{CALLER_SPAN_ID}-01"})
        assert r.status_code == 202, r.text
        spans = received(collector, {"evaluation run": 1, "evaluation case": 2,
                                     "chat echo": 2, "scoring case": 2, "scoring run": 1,
                                     "chat openai/judge": 2})

    run = only(spans, "evaluation run")
    assert (run.trace_id, run.parent_id) == (CALLER_TRACE_ID, CALLER_SPAN_ID)
    assert run.resource["service.name"] == "harness-runner"
    cases = children(spans, run)
    assert sorted(x.name for x in cases) == ["evaluation case"] * 2 + ["scoring run"]
    for case in (x for x in cases if x.name == "evaluation case"):
        [call, scored] = sorted(children(spans, case), key=lambda s: s.name)
        assert call.name == "chat echo"
        assert scored.name == "scoring case"
        assert scored.resource["service.name"] == "harness-scorer"  # another process
        assert scored.attributes["harness.case_id"] == case.attributes["harness.case_id"]
        judged = children(spans, scored)
        assert judged and {j.name for j in judged} == {"chat openai/judge"}
    scoring = only(spans, "scoring run")
    assert scoring.resource["service.name"] == "harness-scorer"
    assert {s.trace_id for s in spans if s.attributes.get("session.id") == r.json()["id"]
            } == {CALLER_TRACE_ID}


@pytest.fixture
def traced_gateway(db_url, tmp_path, monkeypatch):
    with HttpReceiver() as collector, process_stack(
            db_url, tmp_path, monkeypatch, workers=("scorer", "gateway"),
            extra_env={"HARNESS_OTLP_ENDPOINT": collector.url}) as services:
        yield services, collector


def test_the_scorer_service_scores_a_gateway_call_inside_the_calls_trace(traced_gateway):
    """The gateway process stores the span of the call (continuing the caller's
    ``traceparent``); the registry samples the trace, and the scorer process, reading it
    (``trace_context``) from the registry, exports its ``online evaluation`` under that
    span, in the caller's trace."""
    stack, collector = traced_gateway
    reg = httpx.Client(base_url=stack["registry"].url, timeout=30)
    gw = httpx.Client(base_url=stack["gateway"].url, timeout=30)
    with stack_stub(stack) as stub:
        stub.reply("judge", '{"pass": true, "score": 0.75, "reason": "polite enough"}')
        r = reg.post("/evaluators", json={
            "name": "polite", "judge_model": "openai/judge",
            "assertion": {"type": "llm-rubric", "value": "is polite"},
            "traffic": {"source": "gateway"}})
        assert r.status_code == 201, r.text
        key = gw.post("/gateway/keys", json={"name": "app"})
        assert key.status_code == 201, key.text
        r = gw.post("/v1/chat/completions", json={
            "model": "openai/primary", "messages": [{"role": "user", "content": "hi"}]},
            headers={"Authorization": f"Bearer {key.json()['key']}",
                     "traceparent": f"00-{CALLER_TRACE_ID}-{CALLER_SPAN_ID}-01"})
        assert r.status_code == 200, r.text
        spans = received(collector, {"POST /v1/chat/completions": 1,
                                     "online evaluation": 1, "chat openai/judge": 1})

    request = only(spans, "POST /v1/chat/completions")
    assert (request.trace_id, request.parent_id) == (CALLER_TRACE_ID, CALLER_SPAN_ID)
    stored = reg.get(f"/traces/{r.headers['x-harness-trace-id']}").json()
    assert stored["trace_context"] == {"trace_id": CALLER_TRACE_ID,
                                       "span_id": request.span_id}
    scoring = only(spans, "online evaluation")
    assert scoring.resource["service.name"] == "harness-scorer"  # another process
    assert (scoring.trace_id, scoring.parent_id) == (CALLER_TRACE_ID, request.span_id)
    assert scoring.attributes["harness.scored_trace_id"] == stored["id"]
    assert [x.name for x in children(spans, scoring)] == ["chat openai/judge"]
    assert sorted(x.name for x in children(spans, request)) == [
        "chat openai/primary", "online evaluation"]
