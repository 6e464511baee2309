"""A real consumer of the OTLP export: Arize Phoenix (installed into its own virtualenv by
tools/phoenix/install.sh) receives the spans of an evaluation run, its scoring and gateway
calls, and its HTTP API (``GET /v1/projects/{project}/spans``) gives them back: names,
nesting (the run one trace continuing the request that created it, the scorer's judge
calls under their case), span kinds, token counts, cost, input and output, prompt
version, the caller's trace continued by the gateway.

Skips, saying why, only when Phoenix is not installed."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from harness.net import free_port
from services.bootstrap import LocalStack
from tests.support import processes
from tests.support.otel import (
    CALLER_SPAN_ID,
    CALLER_TRACE_ID,
    RUN_CALLER_SPAN_ID,
    ReceivedSpan,
    check_one_run_trace,
    children,
    llm_client,
    only,
    run_harness_eval,
    run_workload,
    stub_models,
)
from tests.support.stub_llm import StubLLM

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "harness-phoenix-test"
EVAL_PROJECT = "harness-phoenix-eval"


def phoenix_dir() -> Path:
    return Path(os.environ.get("HARNESS_PHOENIX_DIR") or ROOT / ".harness" / "phoenix")


@pytest.fixture(scope="module")
def phoenix(tmp_path_factory):
    """A Phoenix server on loopback (its gRPC receiver on a free port too), offline."""
    serve = phoenix_dir() / "bin" / "phoenix-offline"
    if not serve.exists():
        pytest.skip(f"Arize Phoenix is not installed in {serve.parent.parent} "
                    "(bash tools/phoenix/install.sh; .ci/run does it)")
    work = tmp_path_factory.mktemp("phoenix")
    port = free_port("127.0.0.1")
    env = {**os.environ, "PHOENIX_WORKING_DIR": str(work), "PHOENIX_HOST": "127.0.0.1",
           "PHOENIX_PORT": str(port), "PHOENIX_GRPC_PORT": str(free_port("127.0.0.1")),
           "PHOENIX_TELEMETRY_ENABLED": "false", "PHOENIX_ALLOW_EXTERNAL_RESOURCES": "false"}
    with open(work / "phoenix.log", "wb") as out:
        proc = processes.spawn([str(serve), "serve"], env=env, stdout=out,
                               stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc, work / "phoenix.log")
        yield url
    finally:
        processes.stop(proc)


def _wait_healthy(url: str, proc, log: Path, timeout_s: float = 240) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"phoenix exited: {log.read_text()[-3000:]}"
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"phoenix not healthy after {timeout_s}s: {log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def stub_server():
    with StubLLM() as stub:
        yield stub


async def phoenix_spans(url: str, project: str) -> list[ReceivedSpan]:
    """Every span of ``project``, read page by page through Phoenix's REST API."""
    out: list[ReceivedSpan] = []
    cursor = None
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        while True:
            params = {"limit": 100, **({"cursor": cursor} if cursor else {})}
            r = await http.get(f"/v1/projects/{project}/spans", params=params)
            if r.status_code == 404:  # the project appears with its first span
                return []
            r.raise_for_status()
            body = r.json()
            out += [ReceivedSpan(name=s["name"], trace_id=s["context"]["trace_id"],
                                 span_id=s["context"]["span_id"], parent_id=s["parent_id"],
                                 kind=s["span_kind"], attributes=s["attributes"],
                                 status=s["status_code"]) for s in body["data"]]
            cursor = body.get("next_cursor")
            if not cursor:
                return out


async def _all_spans(url: str, expected: int, project: str = PROJECT,
                     timeout_s: float = 60) -> list[ReceivedSpan]:
    """The project's spans once ``expected`` of them are in (Phoenix ingests in batches)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        spans = await phoenix_spans(url, project)
        if len(spans) >= expected or asyncio.get_running_loop().time() > deadline:
            return spans
        await asyncio.sleep(0.5)


async def test_phoenix_reads_back_runs_cases_requests_and_llm_calls(
        phoenix, db_url, artifacts, stub_server, setenv):
    stub_models(stub_server)
    setenv("OPENAI_API_KEY", "sk-test")
    setenv("HARNESS_OTLP_ENDPOINT", phoenix)
    setenv("HARNESS_OTEL_PROJECT", PROJECT)
    stack = await LocalStack.start(db_url, artifacts=artifacts, pool_max=20,
                                   llm=llm_client(stub_server))
    try:
        work = await run_workload(stack, stub_server, phoenix)
    finally:
        await stack.stop()
    # runner: run + 2 cases + 3 calls; scorer: run + 2 cases + its judge calls;
    # gateway: 3 requests + 3 calls
    spans = await _all_spans(phoenix, expected=19)

    check_one_run_trace(work, spans)
    run = only(spans, "evaluation run")
    assert run.parent_id == RUN_CALLER_SPAN_ID and run.kind == "CHAIN"
    assert run.attributes["session.id"] == work.run_id
    # a run's span covers its shard's work (the registry decides the verdict later)
    assert json.loads(run.attributes["output.value"]) == {"recorded": 2}
    cases = [c for c in children(spans, run) if c.name == "evaluation case"]
    calls = [s for c in cases for s in children(spans, c) if s.name != "scoring case"]
    assert sorted(s.name for s in calls) == ["chat openai/answer"] * 2 + ["chat openai/rubric"]
    assert all(s.kind == "LLM" for s in calls)
    answer = next(s for s in calls if s.name == "chat openai/answer")
    a = answer.attributes
    assert a["llm.token_count.prompt"] == 12 and a["llm.token_count.completion"] == 5
    assert a["gen_ai.usage.input_tokens"] == 12 and a["gen_ai.usage.output_tokens"] == 5
    assert a["llm.cost.total"] == pytest.approx(22e-6)
    assert a["langfuse.observation.prompt.name"] == work.prompt_name
    assert a["langfuse.observation.prompt.version"] == 1
    assert a["llm.prompt_template.version"] == "1"
    assert a["llm.input_messages.0.message.content"].startswith("Answer briefly:")
    assert a["output.value"] and a["llm.output_messages.0.message.content"] == a["output.value"]
    assert json.loads(a["input.value"])[0]["role"] == "user"
    assert "kim@example.com" not in json.dumps([s.attributes for s in spans])  # masked

    scoring = only(spans, "scoring run")
    assert scoring.parent_id == run.span_id
    scored = [s for s in spans if s.name == "scoring case"]
    assert len(scored) == 2
    assert all(c.kind == "EVALUATOR" for c in scored)
    judged = [s for c in scored for s in children(spans, c)]
    assert judged and {s.name for s in judged} == {"chat openai/judge"}

    requests = [s for s in spans if s.name == "POST /v1/chat/completions"]
    assert len(requests) == 3
    [continued] = [s for s in requests if s.trace_id == CALLER_TRACE_ID]
    assert continued.parent_id == CALLER_SPAN_ID
    [call] = children(spans, continued)
    assert call.name == "chat openai/answer" and call.kind == "LLM"
    assert call.attributes["harness.trace_id"] == work.gateway_trace_ids[0]
    assert call.attributes["user.id"] == "user-7"
    app_call = only(spans, "chat app/otel-app")
    assert app_call.attributes["langfuse.observation.prompt.version"] == 1
    assert app_call.parent_id in {r.span_id for r in requests}


async def test_phoenix_reads_back_a_harness_eval(phoenix, tmp_path, stub_server):
    stub_models(stub_server)
    await run_harness_eval(tmp_path, stub_server, phoenix, HARNESS_OTEL_PROJECT=EVAL_PROJECT)
    spans = await _all_spans(phoenix, expected=5, project=EVAL_PROJECT)
    run = only(spans, "evaluation run")
    assert run.parent_id is None and run.kind == "CHAIN"
    cases = children(spans, run)
    assert [c.name for c in cases] == ["evaluation case"] * 2
    calls = [s for c in cases for s in children(spans, c)]
    assert [(s.name, s.kind) for s in calls] == [("chat openai/answer", "LLM")] * 2
    assert all(s.attributes["llm.token_count.total"] == 17 for s in calls)
    assert {json.loads(c.attributes["input.value"])["question"] for c in cases} == {
        "Tell me about Paris.", "Say hello."}
