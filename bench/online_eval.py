"""Online evaluation benchmark: does scoring keep up with the gateway?

Two parts, each on its own scratch database, with the loopback stub (its own process)
answering every model, the judge included, after ``--latency`` (50 ms):

- ``pubsub`` (the deployed path): the registry, the gateway and the scorer as separate
  processes over Google's Pub/Sub fake (pull delivery, as ``make stack``).
- ``local``: ``harness up`` (registry, gateway and scorer in one process; the scorer
  reads the trace feed itself).

In each:

- ``baseline``: ``--requests`` chat requests through the gateway, ``--concurrency`` at a
  time, with a key no evaluator looks at: the gateway's requests/s alone.
- ``online``: the same number of requests with a key an ``llm-rubric`` evaluator selects
  at sampling rate 1.0. On ``pubsub`` each trace is written by the gateway, sampled by
  the registry (``TraceSampled``), delivered to the scorer on the ``scoring`` topic,
  judged, and its ``TraceScored`` ingested by the registry from the ``results`` topic.
  ``lag_ms`` (p50/p99/max): score recorded (the event's ``recorded_at``) − trace written,
  taken as the answer's end (the trace's start + its latency; the gateway writes it in
  batches right after). ``scores_per_s`` = scores ÷ (last score recorded − first answer);
  ``keeps_up`` = ``scores_per_s`` ÷ the gateway's requests/s in the same phase (≥ 1: the
  scorer is not the bottleneck; below 1 a queue builds and the lag grows with N).
  ``cpu_ms_per_scored_request``: CPU of each process (``/proc``) from the first request
  to the last score, divided by N (the gateway's includes answering the request).
- ``paced``: ``--paced-requests`` more at ``--rate`` per second, below what scoring keeps
  up with, under an evaluator of their own: ``lag_ms`` there is the pipeline's own lag (no queue).

The fake hands a subscription's pull stream at most one message per 10 ms tick, so on the
fake the scorer's intake is capped near 100 messages/s per pull stream
(``HARNESS_PUBSUB_PULL_STREAMS``); Pub/Sub itself has no such cap. ``machine.load_avg``
(before/after): the machine may be shared, compare ``keeps_up`` across runs. The trace
feed waits for the oldest transaction running on the whole PostgreSQL server: on a
server other work shares (tests, another benchmark's bulk load), the lag measures that
work too; ``HARNESS_BENCH_DATABASE_URL`` (or the embedded server) gives it one of its own.

Usage: python bench/online_eval.py [--requests 300] [--concurrency 8] [--latency 0.05]
                                   [--paced-requests 60] [--rate 4] [--parts pubsub,local]
Database: HARNESS_BENCH_DATABASE_URL, else HARNESS_TEST_DATABASE_URL, else embedded.
Needs the fake's toolchain (``make pubsub-fake``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _db import scratch_database  # noqa: E402
from _stub import start_stub  # noqa: E402

VERDICT = '{"pass": true, "score": 0.8, "reason": "polite"}'

STUB = f"""
import sys, time
from tests.support.stub_llm import StubLLM
stub = StubLLM(latency_s=float(sys.argv[1])).start()
stub.reply("judge", {VERDICT!r})
print(stub.base_url, flush=True)
while True:
    time.sleep(3600)
"""


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _send(client: httpx.AsyncClient, key: str, n: int, concurrency: int) -> float:
    """``n`` chat requests, ``concurrency`` at a time; the wall time in seconds."""
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with gate:
            r = await client.post("/v1/chat/completions",
                                  headers={"Authorization": f"Bearer {key}"},
                                  json={"model": "openai/primary", "messages": [
                                      {"role": "user", "content": f"question {i}"}]})
            r.raise_for_status()

    started = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(n)))
    return time.perf_counter() - started


async def _wait(conn: asyncpg.Connection, sql: str, want: int, timeout: float, *args) -> None:
    deadline = time.monotonic() + timeout
    while (got := await conn.fetchval(sql, *args)) < want:
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out: {got} of {want} ({sql})")
        await asyncio.sleep(0.1)


async def bench_pubsub(args) -> dict:
    """The registry, the gateway and the scorer as separate processes over the fake."""
    from harness.bus.pubsub import ensure_topology
    from harness.devstack import ServiceProcess, service_env, start_worker
    from tests.support.pubsub_fake import PubSubFake

    stub_proc, stub_url = start_stub(args.latency, STUB)
    tmp = Path(tempfile.mkdtemp(prefix="bench-online-"))
    services: list[ServiceProcess] = []
    try:
        async with scratch_database("bench_online") as db_url:
            with PubSubFake() as fake:
                os.environ["PUBSUB_EMULATOR_HOST"] = fake.host
                env = service_env(database_url=db_url, pubsub_host=fake.host,
                                  storage_host=None,
                                  artifacts_uri=f"file://{tmp}/artifacts", data_dir=tmp,
                                  prefix=f"bench{os.getpid()}-")
                env.update(_env(stub_url))
                ensure_topology(env["GOOGLE_CLOUD_PROJECT"], env["HARNESS_TOPIC_PREFIX"])
                registry = ServiceProcess("registry", dict(env)).start(tmp / "logs")
                services.append(registry)
                for name in ("gateway", "scorer"):
                    services.append(start_worker(name, env, registry, tmp / "logs"))
                return await _measure(args, db_url, registry.url, services[1].url,
                                      {svc.name: svc.proc.pid for svc in services})
    finally:
        for svc in reversed(services):
            svc.stop()
        stub_proc.terminate()
        stub_proc.wait()


async def bench_local(args) -> dict:
    """``harness up``: registry, gateway and scorer in one process (the scorer reads the
    trace feed itself)."""
    from harness.devstack import wait_http
    from harness.net import free_port

    stub_proc, stub_url = start_stub(args.latency, STUB)
    tmp = Path(tempfile.mkdtemp(prefix="bench-online-local-"))
    proc = None
    try:
        async with scratch_database("bench_online_local") as db_url:
            port = free_port()
            env = {**os.environ, **_env(stub_url), "DATABASE_URL": db_url,
                   "HARNESS_DATA_DIR": str(tmp), "PYTHONPATH": os.pathsep.join(
                       [str(ROOT / "libs"), str(ROOT)])}
            with open(tmp / "up.log", "ab") as log:
                proc = subprocess.Popen(
                    [sys.executable, "-c", "from services.cli import app; app()", "up",
                     "--host", "127.0.0.1", "--port", str(port), "--no-studio",
                     "--workers", "1"], env=env, cwd=ROOT, stdout=log,
                    stderr=subprocess.STDOUT, start_new_session=True)
            url = f"http://127.0.0.1:{port}"
            wait_http(f"{url}/healthz", proc=proc)
            return await _measure(args, db_url, url, url, {"harness up": proc.pid})
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        stub_proc.terminate()
        stub_proc.wait()


def _env(stub_url: str) -> dict[str, str]:
    return {"HARNESS_LOG_LEVEL": "WARNING", "OPENAI_API_KEY": "sk-bench",
            "HARNESS_LLM_DEPLOYMENTS": json.dumps({"*": {"api_base": stub_url}})}


def _cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process used so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _paced(client: httpx.AsyncClient, key: str, n: int, rate: float) -> None:
    """``n`` chat requests started ``rate`` per second (each its own task)."""
    tasks = []
    for i in range(n):
        tasks.append(asyncio.create_task(client.post(
            "/v1/chat/completions", headers={"Authorization": f"Bearer {key}"},
            json={"model": "openai/primary",
                  "messages": [{"role": "user", "content": f"paced question {i}"}]})))
        await asyncio.sleep(1 / rate)
    for r in await asyncio.gather(*tasks):
        r.raise_for_status()


_LAGS = (
    "SELECT extract(epoch FROM e.recorded_at) AS scored, "
    "extract(epoch FROM t.created_at) + t.latency_ms / 1000 AS answered "
    "FROM events e JOIN gateway_traces t ON t.id = (e.data->>'trace_id')::uuid "
    "WHERE e.type = 'TraceScored' AND t.key_name = $1")
_SCORES = ("SELECT count(*) FROM events e JOIN gateway_traces t "
           "ON t.id = (e.data->>'trace_id')::uuid "
           "WHERE e.type = 'TraceScored' AND t.key_name = $1")


def _lag_ms(rows) -> dict:
    lags = [(float(r["scored"]) - float(r["answered"])) * 1000 for r in rows]
    return {"p50": round(statistics.median(lags), 1), "p99": round(_pct(lags, 0.99), 1),
            "max": round(max(lags), 1)}


async def _measure(args, db_url: str, registry_url: str, gateway_url: str,
                   pids: dict[str, int]) -> dict:
    n, conc = args.requests, args.concurrency
    async with httpx.AsyncClient(base_url=gateway_url, timeout=60) as gw, \
            httpx.AsyncClient(base_url=registry_url, timeout=60) as reg:
        keys = {}
        for name in ("baseline", "scored", "paced"):
            r = await gw.post("/gateway/keys", json={"name": name})
            r.raise_for_status()
            keys[name] = r.json()["key"]
        for name in ("scored", "paced"):
            r = await reg.post("/evaluators", json={
                "name": f"polite-{name}",
                "assertion": {"type": "llm-rubric", "value": "is polite"},
                "judge_model": "openai/judge", "sampling_rate": 1.0,
                "traffic": {"key": name, "source": "gateway"}})
            r.raise_for_status()
        await _send(gw, keys["baseline"], min(20, n), conc)  # warm-up (imports, pools)
        conn = await asyncpg.connect(db_url)
        try:
            baseline_s = await _send(gw, keys["baseline"], n, conc)
            cpu_before = {name: _cpu_s(pid) for name, pid in pids.items()}
            online_s = await _send(gw, keys["scored"], n, conc)
            await _wait(conn, _SCORES, n, args.timeout, "scored")
            cpu = {name: _cpu_s(pid) - cpu_before[name] for name, pid in pids.items()}
            rows = await conn.fetch(_LAGS, "scored")
            # below capacity: the pipeline's own lag, no queue in front of the scorer
            await _paced(gw, keys["paced"], args.paced_requests, args.rate)
            await _wait(conn, _SCORES, args.paced_requests, args.timeout, "paced")
            paced = await conn.fetch(_LAGS, "paced")
            sampled = await conn.fetchval("SELECT count(*) FROM events "
                                          "WHERE type = 'TraceSampled'")
        finally:
            await conn.close()
    span = max(float(r["scored"]) for r in rows) - min(float(r["answered"]) for r in rows)
    scores_per_s = len(rows) / span
    online_rps = n / online_s
    return {
        "baseline": {"gateway_requests_per_s": round(n / baseline_s, 1)},
        "online": {
            "gateway_requests_per_s": round(online_rps, 1),
            "scores": len(rows), "lag_ms": _lag_ms(rows),
            "scores_per_s": round(scores_per_s, 1),
            "keeps_up": round(scores_per_s / online_rps, 3),
            # CPU of each process from the first request to the last score, per score
            # (the gateway's share includes answering the requests)
            "cpu_ms_per_scored_request": {name: round(c * 1000 / n, 1)
                                          for name, c in cpu.items()},
        },
        "paced": {"requests": args.paced_requests, "rate_per_s": args.rate,
                  "scores": len(paced), "lag_ms": _lag_ms(paced)},
        "trace_sampled_events": sampled,
        "gateway_slowdown_with_scoring": round(online_s / baseline_s, 3),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--requests", type=int, default=300)
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--latency", type=float, default=0.05, help="the stub's answer delay (s)")
    p.add_argument("--paced-requests", type=int, default=60)
    p.add_argument("--rate", type=float, default=4.0, help="paced requests per second")
    p.add_argument("--timeout", type=float, default=300, help="hang guard for the scores (s)")
    p.add_argument("--parts", default="pubsub,local")
    args = p.parse_args()
    before = [round(x, 2) for x in os.getloadavg()]
    parts = {"pubsub": bench_pubsub, "local": bench_local}
    result: dict = {"requests": args.requests, "concurrency": args.concurrency,
                    "stub_latency_s": args.latency}
    for name in args.parts.split(","):
        result[name] = asyncio.run(parts[name](args))
    result["machine"] = {"cpus": os.cpu_count(), "load_avg_before": before,
                         "load_avg_after": [round(x, 2) for x in os.getloadavg()]}
    print(json.dumps({"online_eval": result}, indent=2))


if __name__ == "__main__":
    main()
