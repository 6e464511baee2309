"""OpenTelemetry export overhead: the same work with export off and on (OTLP/HTTP to a
receiver in its own process that decodes and counts the spans), in alternating rounds.

``calls``: CPU per ``LLMClient`` call whose trace is queued on a writer (its store
discards), off vs on; the export's own thread and the flush are inside the measured
window. ``run``: a whole evaluation run of ``--cases`` cases through the local stack
(POST /runs → runner → stub → results ingested), CPU per case off vs on, and the spans
one run exports (run + a case span and an LLM call span per case).

``spans``: CPU per LLM call span alone (attributes, span, encoding and post), in a tight
loop: the figure other processes on the machine disturb least.

Prints JSON; ``*_ratio`` = on ÷ off (the median round of each side; on a shared machine
the rounds of one side differ by more than the export costs, so read ``spans`` too).

Usage: python bench/otel_export.py [--calls 500] [--cases 200] [--rounds 3] [--spans 5000]
Database: HARNESS_BENCH_DATABASE_URL, else HARNESS_TEST_DATABASE_URL, else embedded.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _db import scratch_database  # noqa: E402
from _stub import start_stub  # noqa: E402

RECEIVER = """
import json, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
count = {"spans": 0, "names": {}}
lock = threading.Lock()
class H(BaseHTTPRequestHandler):
    def do_POST(self):
        req = ExportTraceServiceRequest()
        req.ParseFromString(self.rfile.read(int(self.headers["content-length"])))
        with lock:
            for rs in req.resource_spans:
                for ss in rs.scope_spans:
                    for s in ss.spans:
                        count["spans"] += 1
                        count["names"][s.name] = count["names"].get(s.name, 0) + 1
        self.send_response(200); self.send_header("content-length", "0"); self.end_headers()
    def do_GET(self):
        with lock:
            body = json.dumps(count).encode()
        self.send_response(200); self.send_header("content-length", str(len(body)))
        self.end_headers(); self.wfile.write(body)
    def log_message(self, *a):
        pass
srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
print(f"http://127.0.0.1:{srv.server_address[1]}", flush=True)
srv.serve_forever()
"""


def _start(script: str, *args: str) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-c", script, *args], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    return proc, proc.stdout.readline().strip()


def _received(receiver: str) -> dict:
    return httpx.get(receiver, timeout=10).json()


def _export(on: bool, receiver: str) -> None:
    from harness.config import get_settings

    if on:
        os.environ["HARNESS_OTLP_ENDPOINT"] = receiver
    else:
        os.environ.pop("HARNESS_OTLP_ENDPOINT", None)
    get_settings.cache_clear()


class _Discard:
    """A trace store that keeps nothing (the database is not what is measured)."""

    async def write(self, batch) -> int:
        return 0

    async def close(self) -> None:
        pass


async def _calls_round(base_url: str, receiver: str, on: bool, calls: int) -> float:
    from harness.llm import LLMClient, LLMRequest
    from harness.tracing import LLMCallTracer, trace_writer_from_settings

    _export(on, receiver)
    writer = trace_writer_from_settings(_Discard(), "harness-bench")
    client = LLMClient(cache=False, deployments={"*": {"api_base": base_url}},
                       observers=[LLMCallTracer(writer)])
    await client.warmup()
    sem = asyncio.Semaphore(20)
    messages = [{"role": "system", "content": "Answer briefly."},
                {"role": "user", "content": "What is the capital of France? Mail kim@x.org"}]

    async def one() -> None:
        async with sem:
            await client.complete(LLMRequest(model="openai/bench", messages=messages,
                                             temperature=0.7, max_retries=0,
                                             labels={"run_id": "bench", "purpose": "case"}))

    await asyncio.gather(*[one() for _ in range(50)])  # warm-up
    await writer.flush()
    cpu0 = time.process_time()
    await asyncio.gather(*[one() for _ in range(calls)])
    await writer.flush()
    for exporter in writer.exporters:
        await asyncio.to_thread(exporter.force_flush)
    cpu = time.process_time() - cpu0
    await writer.stop()
    return cpu / calls * 1000


async def _run_round(base_url: str, receiver: str, on: bool, cases: int) -> dict:
    from harness.artifacts import FolderArtifactStore
    from services.bootstrap import LocalStack
    from services.registry.app import create_app

    _export(on, receiver)
    before = _received(receiver)["spans"]
    tmp = tempfile.TemporaryDirectory()
    async with scratch_database(f"harness_bench_otel_{int(on)}") as db:
        stack = await LocalStack.start(db, artifacts=FolderArtifactStore(Path(tmp.name)),
                                       pool_max=10)
        await stack.runner.llm.warmup()
        stack.runner.llm.deployments["*"] = {"api_base": base_url}
        app = create_app(runtime=stack.runtime)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://r", timeout=120) as c:
            p = (await c.post("/prompts", json={"name": "bench", "content": [
                {"role": "user", "content": "Question {{ i }}: {{ q }}"}]})).json()
            ds = (await c.post("/datasets", json={"name": "bench"})).json()
            await c.post(f"/datasets/{ds['id']}/cases", json={"cases": [
                {"input": {"i": i, "q": f"what is {i} squared?"},
                 "assert": [{"type": "contains", "value": f"Question {i}"}]}
                for i in range(cases)]})
            cpu0, t0 = time.process_time(), time.perf_counter()
            run = (await c.post("/runs", json={"dataset_id": ds["id"], "concurrency": 20,
                                               "targets": [{"prompt_id": p["id"],
                                                            "model": "openai/bench"}]})).json()
            while (await c.get(f"/runs/{run['id']}")).json()["status"] not in (
                    "completed", "failed", "cancelled"):
                await asyncio.sleep(0.02)
            await stack.traces.flush()
            for exporter in stack.traces.exporters:
                await asyncio.to_thread(exporter.force_flush)
            wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        await stack.stop()
    tmp.cleanup()
    return {"cpu_ms_per_case": cpu / cases * 1000, "wall_s": wall,
            "spans": _received(receiver)["spans"] - before}


def _span_cpu(receiver: str, n: int) -> dict:
    """CPU per LLM call span, in a tight loop (the least disturbed figure): build its
    attributes (masked content), make and end the span, encode and post it (the batch
    processor's thread, inside the window through ``force_flush``)."""
    from datetime import UTC, datetime

    from harness.tracing import Trace
    from harness.tracing.otlp import OtlpExporter

    exporter = OtlpExporter(receiver, service_name="harness-bench", content="masked")
    messages = [{"role": "system", "content": "Answer briefly."},
                {"role": "user", "content": "What is the capital of France? Mail kim@x.org"}]

    def trace() -> Trace:
        return Trace(kind="chat", model_requested="openai/bench", status=200,
                     latency_ms=20.0, created_at=datetime.now(UTC), source="runner",
                     model_answered="openai/bench", prompt_tokens=20, completion_tokens=8,
                     cost_usd=3.6e-5, params={"temperature": 0.7}, run_id="bench",
                     prompt_name="bench", prompt_version=1, purpose="case",
                     request={"messages": messages},
                     response={"content": "Paris.", "finish_reason": "stop"})

    exporter.export([trace() for _ in range(200)])  # warm-up
    exporter.force_flush()
    out = {}
    for label, masked in (("masked", False), ("already_masked", True)):
        batch = [trace() for _ in range(n)]
        for t in batch:
            t.bodies_masked = masked
        cpu0 = time.process_time()
        for start in range(0, n, 200):
            exporter.export(batch[start:start + 200])
            if start % 1000 == 800:  # within the batch processor's queue (2,048 spans)
                exporter.force_flush()
        exporter.force_flush()
        out[f"cpu_ms_per_span_{label}"] = (time.process_time() - cpu0) / n * 1000
    exporter.shutdown()
    return out


def _median(xs: list[float]) -> float:
    return sorted(xs)[len(xs) // 2]


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=500)
    ap.add_argument("--cases", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--spans", type=int, default=5000)
    ap.add_argument("--latency", type=float, default=0.02)
    args = ap.parse_args()
    os.environ.setdefault("OPENAI_API_KEY", "sk-bench")
    from harness.logging import configure_logging

    configure_logging("WARNING")
    stub, base_url = start_stub(args.latency)
    receiver_proc, receiver = _start(RECEIVER)
    try:
        span_cpu = _span_cpu(receiver, args.spans)
        calls: dict[str, list[float]] = {"off": [], "on": []}
        runs: dict[str, list[dict]] = {"off": [], "on": []}
        for _ in range(args.rounds):
            for side in ("off", "on"):
                calls[side].append(await _calls_round(base_url, receiver, side == "on",
                                                      args.calls))
            for side in ("off", "on"):
                runs[side].append(await _run_round(base_url, receiver, side == "on",
                                                   args.cases))
        names = _received(receiver)["names"]
    finally:
        stub.terminate()
        receiver_proc.terminate()
    call_off, call_on = _median(calls["off"]), _median(calls["on"])
    case_off = _median([r["cpu_ms_per_case"] for r in runs["off"]])
    case_on = _median([r["cpu_ms_per_case"] for r in runs["on"]])
    spans_per_run = runs["on"][0]["spans"]
    print(json.dumps({
        "benchmark": "otel_export", "cpus": os.cpu_count(),
        "load_average": os.getloadavg(), "spans": {"spans": args.spans, **span_cpu},
        "calls": {"calls": args.calls, "cpu_ms_per_call_off": call_off,
                  "cpu_ms_per_call_on": call_on, "overhead_ms_per_call": call_on - call_off,
                  "cpu_per_call_ratio": call_on / call_off, "rounds_ms": calls},
        "run": {"cases": args.cases, "spans_per_run": spans_per_run,
                "spans_per_case": (spans_per_run - 1) / args.cases,
                "cpu_ms_per_case_off": case_off, "cpu_ms_per_case_on": case_on,
                "cpu_per_case_ratio": case_on / case_off,
                "wall_s_off": _median([r["wall_s"] for r in runs["off"]]),
                "wall_s_on": _median([r["wall_s"] for r in runs["on"]]),
                "rounds": runs,
                "spans_off": sum(r["spans"] for r in runs["off"])},
        "span_names": names,
    }, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
