"""OpenTelemetry export in tests: decode the OTLP/HTTP protobuf a receiver got, and one
workload with export on (an evaluation run requested with a caller's ``traceparent``,
with a judge assertion and a scored metric, then gateway calls continuing a caller's
``traceparent``) that the OTLP and Phoenix tests check, with the one-trace structure both
check alike (:func:`check_one_run_trace`)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from tests.support.ragas_judge import PARIS, judge_reply
from tests.support.runs import seed, wait_run
from tests.support.stub_llm import StubLLM

PRICES = {m: {"input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6}
          for m in ("openai/answer", "openai/judge", "openai/rubric")}
PROMPT = "Answer briefly: {{ question }}"
CASES = [
    {"input": {"question": "Tell me about Paris.", "contexts": [PARIS]},
     "assert": [{"type": "llm-rubric", "value": "mentions Paris",
                 "provider": "openai:chat:rubric"}]},
    {"input": {"question": "Say hello to kim@example.com.", "contexts": [PARIS]}},
]
# a caller's W3C trace context, continued by the gateway
CALLER_TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN_ID = "00f067aa0ba902b7"
TRACEPARENT = f"00-{CALLER_TRACE_ID}-{CALLER_SPAN_ID}-01"
# the trace of the request that creates the run (POST /runs), continued across the bus
RUN_CALLER_TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
RUN_CALLER_SPAN_ID = "b7ad6b7169203331"
RUN_TRACEPARENT = f"00-{RUN_CALLER_TRACE_ID}-{RUN_CALLER_SPAN_ID}-01"


@dataclass
class ReceivedSpan:
    name: str
    trace_id: str
    span_id: str
    parent_id: str | None
    kind: str
    attributes: dict[str, Any]
    resource: dict[str, Any] = field(default_factory=dict)
    status: str = "UNSET"
    start_ns: int = 0
    end_ns: int = 0


def children(spans: list[ReceivedSpan], parent: ReceivedSpan) -> list[ReceivedSpan]:
    return [s for s in spans if s.parent_id == parent.span_id and s.trace_id == parent.trace_id]


def only(spans: list[ReceivedSpan], name: str) -> ReceivedSpan:
    [span] = [s for s in spans if s.name == name]
    return span


def check_one_run_trace(work: Workload, spans: list[ReceivedSpan]) -> None:
    """The run is one trace, continuing the trace of the request that created it:
    ``evaluation run`` (a child of the caller's span) → ``evaluation case`` → the case's
    LLM calls and ``scoring case`` → the scorer's judge calls; ``scoring run`` under the
    run. Every span of the run (runner's and scorer's) is in that trace, and the ids the
    registry answers (the run's ``config.trace_context``, each result's) are the spans'."""
    run = only(spans, "evaluation run")
    assert (run.trace_id, run.parent_id) == (RUN_CALLER_TRACE_ID, RUN_CALLER_SPAN_ID)
    assert work.run_trace == {"trace_id": RUN_CALLER_TRACE_ID, "span_id": run.span_id,
                              "parent_span_id": RUN_CALLER_SPAN_ID}
    of_run = [s for s in spans if s.attributes.get("session.id") == work.run_id]
    assert len(of_run) == 9  # run, 2 cases, 3 calls; scoring run, 2 scoring cases
    assert {s.trace_id for s in of_run} == {RUN_CALLER_TRACE_ID}
    cases = [s for s in children(spans, run) if s.name == "evaluation case"]
    assert len(cases) == 2
    assert {c.span_id for c in cases} == {r["span_id"] for r in work.result_traces}
    assert {r["trace_id"] for r in work.result_traces} == {RUN_CALLER_TRACE_ID}
    under = {c.attributes["harness.case_id"]: sorted(x.name for x in children(spans, c))
             for c in cases}
    assert sorted(under.values()) == [
        ["chat openai/answer", "chat openai/rubric", "scoring case"],
        ["chat openai/answer", "scoring case"]]
    scored = [x for c in cases for x in children(spans, c) if x.name == "scoring case"]
    for s in scored:
        judged = children(spans, s)
        assert judged and {j.name for j in judged} == {"chat openai/judge"}
    [scoring] = [s for s in children(spans, run) if s.name == "scoring run"]
    assert json.loads(scoring.attributes["output.value"]) == {"scores": 2}
    assert sorted(s.name for s in children(spans, run)) == ["evaluation case"] * 2 + [
        "scoring run"]


def _value(v) -> Any:
    kind = v.WhichOneof("value")
    if kind == "array_value":
        return [_value(x) for x in v.array_value.values]
    return getattr(v, kind)


def decode_spans(bodies: Iterable[bytes]) -> list[ReceivedSpan]:
    """Every span of OTLP/HTTP protobuf export requests."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )
    from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

    out = []
    for body in bodies:
        req = ExportTraceServiceRequest()
        req.ParseFromString(body)
        for rs in req.resource_spans:
            resource = {a.key: _value(a.value) for a in rs.resource.attributes}
            for ss in rs.scope_spans:
                out += [ReceivedSpan(
                    name=s.name, trace_id=s.trace_id.hex(), span_id=s.span_id.hex(),
                    parent_id=s.parent_span_id.hex() or None,
                    kind=Span.SpanKind.Name(s.kind).removeprefix("SPAN_KIND_"),
                    attributes={a.key: _value(a.value) for a in s.attributes},
                    resource=resource,
                    status=Status.StatusCode.Name(s.status.code).removeprefix("STATUS_CODE_"),
                    start_ns=s.start_time_unix_nano, end_ns=s.end_time_unix_nano)
                    for s in ss.spans]
    return out


def stub_models(stub: StubLLM) -> None:
    """The target model, the Ragas judge and the rubric judge, with usage."""
    stub.reset()
    stub.usage("answer", 12, 5)
    stub.reply("judge", judge_reply)
    stub.usage("judge", 100, 20)
    stub.reply("rubric", json.dumps({"pass": True, "score": 1.0, "reason": "it does"}))
    stub.usage("rubric", 30, 8)


def llm_client(stub: StubLLM):
    from harness.llm import LLMClient

    return LLMClient(cache=False, backoff_base_s=0.01, backoff_max_s=0.05, prices=PRICES,
                     deployments={"*": {"api_base": stub.base_url, "api_key": "sk-test"}})


async def wait_scored(client, run_id: str, timeout: float = 120) -> dict:
    await wait_run(client, run_id, timeout=timeout)
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        run = (await client.get(f"/runs/{run_id}")).json()
        if run["phase"] != "scoring":
            return run
        assert asyncio.get_running_loop().time() < deadline, run["scoring"]
        await asyncio.sleep(0.05)


@dataclass
class Workload:
    run_id: str
    prompt_id: str
    prompt_name: str
    gateway_trace_ids: list[str]
    run_trace: dict[str, str] | None = None      # GET /runs/{id}: config.trace_context
    result_traces: list[dict[str, str]] = field(default_factory=list)  # each result's


async def run_workload(stack, stub: StubLLM, endpoint: str) -> Workload:
    """An evaluation run (2 cases, one llm-rubric judge call, faithfulness scored by the
    judge) on ``stack`` (exporting to ``endpoint``), then three gateway calls (one with the
    caller's ``traceparent``, one streamed, one to an application); everything flushed to
    the collector before it returns."""
    import httpx

    from services.gateway.config import GatewaySettings
    from services.registry.app import create_app
    from tests.support.gateway import serve_gateway

    transport = httpx.ASGITransport(app=create_app(runtime=stack.runtime))
    async with httpx.AsyncClient(transport=transport, base_url="http://registry") as c:
        p, ds = await seed(c, cases=CASES, versions=[PROMPT], name="otel")
        r = await c.post("/runs", json={
            "dataset_id": ds["id"], "targets": [{"prompt_id": p["id"],
                                                 "model": "openai/answer"}],
            "metrics": ["faithfulness"], "judge_model": "openai/judge"},
            headers={"traceparent": RUN_TRACEPARENT})
        assert r.status_code == 202, r.text
        run = await wait_scored(c, r.json()["id"])
        assert run["status"] == "completed", run
        results = (await c.get(f"/runs/{run['id']}/results")).json()["items"]
        app = await c.post("/applications", json={
            "name": "otel-app", "model_id": "openai/answer", "prompt_id": p["id"],
            "temperature": 0})
        assert app.status_code == 201, app.text
    settings = GatewaySettings(
        deployments={"*": {"api_base": stub.base_url, "api_key": "sk-test"}}, prices=PRICES,
        num_retries=0, trace_flush_s=0.02, otlp_endpoint=endpoint)
    trace_ids = []
    async with serve_gateway(stack.runtime, settings) as gw:
        sdk = gw.sdk(await gw.key("otel-key"))
        raw = await sdk.chat.completions.with_raw_response.create(
            model="openai/answer", messages=[{"role": "user", "content": "hi there"}],
            user="user-7", metadata={"session_id": "session-1"},
            extra_headers={"traceparent": TRACEPARENT})
        trace_ids.append(raw.headers["x-harness-trace-id"])
        stream = await sdk.chat.completions.create(
            model="openai/answer", messages=[{"role": "user", "content": "stream it"}],
            stream=True)
        async for _ in stream:
            pass
        await sdk.chat.completions.create(
            model="app/otel-app", messages=[{"role": "user", "content": "hello"}],
            extra_body={"variables": {"question": "What is the capital?"}})
        await gw.gateway.traces.flush()
        for exporter in gw.gateway.traces.exporters:
            assert await asyncio.to_thread(exporter.force_flush)
    await stack.traces.flush()
    for exporter in stack.traces.exporters:
        assert await asyncio.to_thread(exporter.force_flush)
    return Workload(run_id=run["id"], prompt_id=p["id"], prompt_name=p["name"],
                    gateway_trace_ids=trace_ids,
                    run_trace=run["config"].get("trace_context"),
                    result_traces=[r["trace_context"] for r in results])


EVAL_CONFIG = """description: otel eval
prompts: ['Answer briefly: {{question}}']
providers: [{id: 'openai:chat:answer', config: {apiBaseUrl: '__STUB__', apiKey: sk-test}}]
tests:
  - vars: {question: 'Tell me about Paris.'}
    assert: [{type: icontains, value: paris}]
  - vars: {question: 'Say hello.'}
"""


async def run_harness_eval(folder, stub: StubLLM, endpoint: str, **env: str) -> str:
    """``harness eval`` (a process of its own) on a two-test config against the stub, its
    spans exported to ``endpoint``; returns its output."""
    import os
    import sys

    from tests.support import processes

    config = folder / "promptfooconfig.yaml"
    config.write_text(EVAL_CONFIG.replace("__STUB__", stub.base_url))
    code, out = await processes.run_async(
        sys.executable, "-m", "services.cli", "eval", "-c", str(config), "--no-cache",
        timeout=300, env={**os.environ, "HARNESS_OTLP_ENDPOINT": endpoint, "COLUMNS": "200",
                          "HARNESS_LOG_JSON": "false", **env})
    assert code == 0, out
    return out
