"""Registry benchmark: event-store append vs raw INSERT, resolve vs a bare FastAPI endpoint.

Prints one JSON document. Both sides of each ratio are measured in this run, on the same
database and machine:

* ``append_ratio``  = appends/s through ``EventStore.append`` (one event per call, expected
  version checked) ÷ single-row ``INSERT``/s with raw asyncpg into a table of the same shape.
* ``resolve_ratio`` = requests/s of ``GET /applications/{id}/resolved`` ÷ requests/s of a
  bare FastAPI endpoint returning a constant of the same size; each served by one uvicorn
  process, loaded by ``wrk`` with 64 connections (p50/p99 from wrk's latency distribution).

Usage: python bench/registry.py [--appends 3000] [--seconds 10] [--connections 64]
Database: HARNESS_BENCH_DATABASE_URL, else HARNESS_TEST_DATABASE_URL, else embedded.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _db import scratch_database  # noqa: E402

from harness.db import create_pool  # noqa: E402
from harness.events import NewEvent  # noqa: E402
from harness.eventstore import EventStore  # noqa: E402
from harness.net import free_port  # noqa: E402


async def bench_append(url: str, n: int) -> dict:
    from services.registry.runtime import migrate_all

    pool = await create_pool(url, min_size=1, max_size=2)
    await migrate_all(pool)
    await pool.execute("CREATE TABLE baseline_events (LIKE events INCLUDING ALL)")
    store = EventStore(pool)
    data = {"prompt_id": "p", "version": 1, "content": "Hello {{ name }}", "variables": ["name"]}
    meta = {"actor": "bench"}
    streams = 100

    async with pool.acquire() as conn:
        # warm-up both paths
        for i in range(50):
            await conn.execute(
                "INSERT INTO baseline_events (event_id, stream_id, stream_version, type, data, "
                "metadata) VALUES ($1, $2, $3, $4, $5, $6)",
                uuid.uuid4(), "warm", i + 1, "BenchEvent", data, meta)
            await store.append("warm", i, [NewEvent(type="BenchEvent", data=data,
                                                    metadata=meta)], conn=conn)
        t0 = time.perf_counter()
        for i in range(n):
            await conn.execute(
                "INSERT INTO baseline_events (event_id, stream_id, stream_version, type, data, "
                "metadata) VALUES ($1, $2, $3, $4, $5, $6)",
                uuid.uuid4(), f"s-{i % streams}", i // streams + 1, "BenchEvent",
                data, meta)
        baseline_s = time.perf_counter() - t0

        events = [NewEvent(type="BenchEvent", data=data, metadata=meta)
                  for _ in range(n)]
        t0 = time.perf_counter()
        for i in range(n):
            await store.append(f"s-{i % streams}", i // streams, [events[i]], conn=conn)
        ours_s = time.perf_counter() - t0
    await pool.close()
    return {"appends": n, "append_per_s": n / ours_s, "raw_insert_per_s": n / baseline_s,
            "append_ratio": baseline_s / ours_s}


async def seed_application(url: str) -> str:
    from services.registry.app import create_app

    app = create_app(url, relay=False)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://r") as c:
        p = (await c.post("/prompts", json={"name": "bench", "content": [
            {"role": "system", "content": "You support {{ product }}."},
            {"role": "user", "content": "{{ question }}"}]})).json()
        for i in range(2):
            await c.post(f"/prompts/{p['id']}/versions", json={
                "content": f"v{i + 2} {{{{ question }}}}", "activate": True})
        a = (await c.post("/applications", json={"name": "bot", "model_id": "openai/gpt-4o-mini",
                                                  "prompt_id": p["id"]})).json()
        return a["id"]


def serve(factory: str, env: dict) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", factory, "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning", "--no-access-log"],
        cwd=ROOT / "bench", env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            httpx.get(base + "/openapi.json", timeout=1)
            return proc, base
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"{factory} did not start")


def _ms(text: str) -> float:
    m = re.match(r"([\d.]+)(us|ms|s)", text)
    assert m, text
    value, unit = float(m.group(1)), m.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


def wrk(url: str, seconds: int, connections: int) -> dict:
    subprocess.run(["wrk", "-t1", "-c", str(connections), "-d", "2s", url],
                   capture_output=True, check=True)  # warm-up
    out = subprocess.run(["wrk", "-t1", "-c", str(connections), "-d", f"{seconds}s",
                          "--latency", url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"requests_per_s": rps, "p50_ms": p50, "p99_ms": p99,
            "non_2xx": int(errors.group(1)) if errors else 0}


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--appends", type=int, default=3000)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--connections", type=int, default=64)
    args = ap.parse_args()
    if not shutil.which("wrk"):
        sys.exit("bench/registry.py needs wrk (apt-get install wrk)")

    from harness.logging import configure_logging

    configure_logging("WARNING")  # logs go to stderr; stdout is the JSON document
    async with scratch_database("harness_bench_registry") as url:
        append = await bench_append(url, args.appends)
        app_id = await seed_application(url)
        reg, reg_url = serve("_apps:registry", {"DATABASE_URL": url})
        bare, bare_url = serve("_apps:bare", {})
        try:
            ours = wrk(f"{reg_url}/applications/{app_id}/resolved", args.seconds,
                       args.connections)
            base = wrk(f"{bare_url}/constant", args.seconds, args.connections)
        finally:
            for p in (reg, bare):
                p.terminate()
                p.wait(timeout=30)

    print(json.dumps({
        "benchmark": "registry",
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        **append,
        "resolve": ours,
        "bare_fastapi": base,
        "connections": args.connections,
        "resolve_ratio": ours["requests_per_s"] / base["requests_per_s"],
        "goals": {"append_ratio": ">= 0.5", "resolve_ratio": ">= 0.5"},
    }, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
