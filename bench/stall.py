"""Stall benchmark: what one hostile request does to everybody else.

A registry in its own process (uvicorn, default pool of 10) on a scratch database, and
this process as the clients. Each probe is compared with the same probe on the idle
server in the same run:

- ``template``: ``GET /healthz`` latency while ``POST /prompts/{id}/render`` renders two
  nested ``range(3000)`` loops (9 million iterations without a budget);
- ``regex``: this process's event-loop lag while a ``regex`` assertion matches
  ``^(a|a)+$`` against 24 a's and a b (about 1.3 s of backtracking in Python's ``re``);
- ``activations``: ``GET /prompts/{other}`` latency (sequential reads) while 200
  activations of one prompt are in flight, and the activations' statuses;
- ``rebuild``: 4 ``projections.rebuild`` runs while 12 writers create versions, cases and
  activations over HTTP: rebuild failures, server errors, 503s.

Usage: python bench/stall.py
Database: HARNESS_BENCH_DATABASE_URL, else HARNESS_TEST_DATABASE_URL, else embedded.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "libs"))
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _db import scratch_database  # noqa: E402

from harness.net import free_port  # noqa: E402

NESTED_LOOPS = "{% for i in range(3000) %}{% for j in range(3000) %}{% endfor %}{% endfor %}"


def serve(url: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url,
           "PYTHONPATH": f"{ROOT / 'libs'}{os.pathsep}{ROOT}"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "_apps:registry", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning", "--no-access-log"],
        cwd=ROOT / "bench", env=env)
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            httpx.get(base + "/healthz", timeout=1)
            return proc, base
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the registry did not start")


async def timed(coro) -> tuple[float, object]:
    start = time.perf_counter()
    result = await coro
    return (time.perf_counter() - start) * 1000, result


async def latencies_while(c: httpx.AsyncClient, path: str, busy: asyncio.Task | None,
                          n: int = 20) -> list[float]:
    """Sequential GETs of ``path``: ``n`` of them, or as many as fit while ``busy`` runs."""
    out: list[float] = []
    while (busy is None and len(out) < n) or (busy is not None and not busy.done()):
        ms, r = await timed(c.get(path))
        assert r.status_code == 200, r.text
        out.append(ms)
    return out


def summary(values: list[float]) -> dict:
    return {"n": len(values), "p50_ms": round(statistics.median(values), 1),
            "max_ms": round(max(values), 1)} if values else {"n": 0}


async def probe_template(c: httpx.AsyncClient) -> dict:
    pid = (await c.post("/prompts", json={"name": "loops", "content": NESTED_LOOPS})).json()["id"]
    idle = await latencies_while(c, "/healthz", None)
    render = asyncio.create_task(timed(c.post(f"/prompts/{pid}/render",
                                              json={"variables": {}}, timeout=120)))
    await asyncio.sleep(0.05)  # the render has reached the server
    busy = await latencies_while(c, "/healthz", render)
    render_ms, r = await render
    return {"healthz_idle": summary(idle), "healthz_during_render": summary(busy),
            "render_status": r.status_code, "render_ms": round(render_ms),
            "render_type": r.json().get("type") if r.status_code != 200 else None}


async def probe_regex() -> dict:
    from harness.assertions import AssertionContext, evaluate_assertion

    async def lag_while(busy: asyncio.Task | None, n: int = 20) -> list[float]:
        out = []
        while (busy is None and len(out) < n) or (busy is not None and not busy.done()):
            start = time.perf_counter()
            await asyncio.sleep(0.005)
            out.append((time.perf_counter() - start) * 1000 - 5)
        return out

    idle = await lag_while(None)
    check = asyncio.create_task(timed(evaluate_assertion(
        {"type": "regex", "value": "^(a|a)+$"}, "a" * 24 + "b", AssertionContext())))
    busy = await lag_while(check)
    ms, result = await check
    return {"loop_lag_idle": summary(idle), "loop_lag_during_regex": summary(busy),
            "regex_ms": round(ms), "regex_reason": result.reason[:80]}


async def probe_activations(c: httpx.AsyncClient) -> dict:
    hot = (await c.post("/prompts", json={"name": "hot", "content": "v1"})).json()["id"]
    await c.post(f"/prompts/{hot}/versions", json={"content": "v2"})
    other = (await c.post("/prompts", json={"name": "other", "content": "x"})).json()["id"]
    idle = await latencies_while(c, f"/prompts/{other}", None)
    limits = httpx.Limits(max_connections=250)
    async with httpx.AsyncClient(base_url=str(c.base_url), limits=limits, timeout=120) as many:
        start = time.perf_counter()
        acts = [asyncio.create_task(many.put(f"/prompts/{hot}/versions/{1 + i % 2}/activate",
                                             json={})) for i in range(200)]
        burst = asyncio.ensure_future(asyncio.gather(*acts))
        reads = await latencies_while(c, f"/prompts/{other}", burst)
        statuses = [a.status_code for a in await burst]
        burst_ms = (time.perf_counter() - start) * 1000
    return {"read_idle": summary(idle), "read_during_200_activations": summary(reads),
            "activations_ms": round(burst_ms),
            "activation_statuses": {str(s): statuses.count(s) for s in sorted(set(statuses))}}


async def probe_rebuild(c: httpx.AsyncClient, url: str) -> dict:
    from harness.db import create_pool
    from harness.eventstore import EventStore
    from services.registry.read import projections

    stop = asyncio.Event()
    statuses: list[int] = []

    async def writer(n: int) -> None:
        pid = (await c.post("/prompts", json={"name": f"w{n}", "content": "v1"})).json()["id"]
        did = (await c.post("/datasets", json={"name": f"d{n}"})).json()["id"]
        i = 0
        while not stop.is_set():
            i += 1
            for method, path, body in (
                ("POST", f"/prompts/{pid}/versions", {"content": f"v{i}", "activate": True}),
                ("POST", f"/datasets/{did}/cases", {"cases": [{"input": {"x": i}}]}),
                ("PUT", f"/prompts/{pid}/versions/1/activate", {}),
            ):
                try:
                    r = await c.request(method, path, json=body, timeout=60)
                    statuses.append(r.status_code)
                except httpx.HTTPError:
                    statuses.append(-1)

    pool = await create_pool(url, min_size=1, max_size=2)
    errors: list[str] = []
    tasks = [asyncio.create_task(writer(n)) for n in range(12)]
    try:
        for _ in range(4):
            await asyncio.sleep(0.3)
            try:
                await projections.rebuild(EventStore(pool))
            except Exception as exc:  # noqa: BLE001 - a deadlock victim is the finding
                errors.append(type(exc).__name__)
    finally:
        stop.set()
        await asyncio.gather(*tasks)
        await pool.close()
    return {"rebuilds": 4, "rebuild_errors": errors,
            "writes": {str(s): statuses.count(s) for s in sorted(set(statuses))}}


async def main() -> None:
    from harness.db import create_pool
    from harness.logging import configure_logging
    from services.registry.runtime import migrate_all

    configure_logging("WARNING")  # logs go to stderr; stdout is the JSON document
    async with scratch_database("bench_stall") as url:
        pool = await create_pool(url, min_size=1, max_size=1)
        await migrate_all(pool)
        await pool.close()
        proc, base = serve(url)
        try:
            async with httpx.AsyncClient(base_url=base, timeout=120) as c:
                out = {"template": await probe_template(c), "regex": await probe_regex(),
                       "activations": await probe_activations(c),
                       "rebuild": await probe_rebuild(c, url)}
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
