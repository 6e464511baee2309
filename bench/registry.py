"""Registry benchmark: event-store append vs raw INSERT, resolve vs a bare FastAPI endpoint.

Prints one JSON document. Both sides of each ratio are measured in this run, on the same
database and machine:

* ``append_ratio``  = appends/s through ``EventStore.append`` (one event per call, expected
  version checked) ÷ single-row ``INSERT``/s with raw asyncpg into a table of the same shape.
* ``resolve_ratio`` = requests/s of ``GET /applications/{id}/resolved`` ÷ requests/s of a
  bare FastAPI endpoint returning a constant of the same size; each served by one uvicorn
  process, loaded by ``wrk`` with 64 connections (p50/p99 from wrk's latency distribution).
* ``activation_ms_at_1000_over_10`` = median latency of ``PUT /prompts/{id}/versions/{n}/activate``
  on a prompt whose stream holds 1,000 events ÷ on one holding 10 (in process, sequential,
  the two in turns);
  ``concurrent_activations`` = the wall time of 200 activations sent at once to one prompt
  (1,000 events), with their statuses (503 = queued past ``HARNESS_STREAM_LOCK_WAIT_S``).

Usage: python bench/registry.py [--appends 3000] [--seconds 10] [--connections 64]
                                [--activations 60] [--concurrent 200]
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


async def _prompt_with_events(client: httpx.AsyncClient, rt, events: int) -> str:
    """A prompt with two versions whose stream holds ``events`` events: made through the
    API, then padded with activations appended and projected as the registry would."""
    from harness.events import EventMetadata, streams
    from harness.events.registry_events import PromptVersionActivated
    from services.registry.read import projections

    p = (await client.post("/prompts", json={"name": f"p{uuid.uuid4().hex[:8]}",
                                              "content": "v1 {{ q }}"})).json()
    r = await client.post(f"/prompts/{p['id']}/versions", json={"content": "v2 {{ q }}",
                                                                 "activate": True})
    assert r.status_code == 201, r.text
    stream = streams.prompt(p["id"])
    version = await rt.store.stream_version(stream)  # 5: created, v1, active, v2, active
    meta = EventMetadata(actor="bench")
    pad = [PromptVersionActivated(prompt_id=p["id"], version=1 + i % 2,
                                  previous_version=2 - i % 2, reason="pad").to_new(meta)
           for i in range(events - version)]
    async with rt.pool.acquire() as conn, conn.transaction():
        for ev in await rt.store.append(stream, version, pad, conn=conn):
            await projections.apply(conn, ev)
    assert await rt.store.stream_version(stream) == events
    return p["id"]


async def _activation_ms(client: httpx.AsyncClient, prompt_ids: list[str], n: int
                         ) -> list[float]:
    """Median latency of ``n`` sequential activations (alternating versions 1 and 2) of
    each prompt, taken in turns so that both see the same load on a shared machine."""
    times: list[list[float]] = [[] for _ in prompt_ids]
    for i in range(n):
        for k, prompt_id in enumerate(prompt_ids):
            t0 = time.perf_counter()
            r = await client.put(f"/prompts/{prompt_id}/versions/{1 + i % 2}/activate",
                                 json={})
            times[k].append((time.perf_counter() - t0) * 1000)
            assert r.status_code == 200, r.text
    return [sorted(t)[len(t) // 2] for t in times]


async def bench_activation(url: str, samples: int, concurrent: int) -> dict:
    from services.registry.app import create_app

    app = create_app(url, relay=False)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://r", timeout=600) as c:
        rt = app.state.runtime
        small = await _prompt_with_events(c, rt, 10)
        big = await _prompt_with_events(c, rt, 1000)
        hot = await _prompt_with_events(c, rt, 1000)
        await _activation_ms(c, [small], 5)  # warm-up
        at_10, at_1000 = await _activation_ms(c, [small, big], samples)

        async def activate(i: int) -> int:
            return (await c.put(f"/prompts/{hot}/versions/{1 + i % 2}/activate",
                                json={})).status_code

        t0 = time.perf_counter()
        statuses = await asyncio.gather(*(activate(i) for i in range(concurrent)))
        wall = time.perf_counter() - t0
    return {
        "activation_ms_at_10": at_10, "activation_ms_at_1000": at_1000,
        "activation_ms_at_1000_over_10": at_1000 / at_10,
        "concurrent_activations": {
            "count": concurrent, "events_in_stream": 1000, "wall_s": wall,
            "statuses": {str(s): statuses.count(s) for s in sorted(set(statuses))}},
    }


def serve(factory: str, env: dict) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", factory, "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning", "--no-access-log"],
        cwd=ROOT / "bench",  # this checkout's code, whatever the venv has installed
        env={**os.environ, **env, "PYTHONPATH": f"{ROOT / 'libs'}{os.pathsep}{ROOT}"},
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
    ap.add_argument("--activations", type=int, default=60)
    ap.add_argument("--concurrent", type=int, default=200)
    args = ap.parse_args()
    if not shutil.which("wrk"):
        sys.exit("bench/registry.py needs wrk (apt-get install wrk)")

    from harness.logging import configure_logging

    configure_logging("WARNING")  # logs go to stderr; stdout is the JSON document
    async with scratch_database("harness_bench_registry") as url:
        append = await bench_append(url, args.appends)
        activation = await bench_activation(url, args.activations, args.concurrent)
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
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0],
                    "load_average": os.getloadavg()},
        **append,
        **activation,
        "resolve": ours,
        "bare_fastapi": base,
        "connections": args.connections,
        "resolve_ratio": ours["requests_per_s"] / base["requests_per_s"],
        "goals": {"append_ratio": ">= 0.5", "resolve_ratio": ">= 0.8",
                  "activation_ms_at_1000_over_10": "<= 1.2"},
    }, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
