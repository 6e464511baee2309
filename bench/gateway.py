"""Added latency of the gateway over calling the stub provider directly (JSON).

    HARNESS_TEST_DATABASE_URL=postgresql://... python bench/gateway.py [--requests 400]

Same stub, same load, same run: direct calls are the baseline; the gateway path adds
key lookup, rate/budget bookkeeping in Postgres, PII masking, LiteLLM routing and
batched trace writes. LiteLLM's own proxy is measured only when ``litellm.proxy`` imports
(the ``litellm[proxy]`` extra); otherwise its fields are null with the reason.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import asyncpg  # noqa: E402
import httpx  # noqa: E402


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


async def _load(client: httpx.AsyncClient, url: str, headers: dict, body: dict,
                concurrency: int, total: int) -> list[float]:
    sem = asyncio.Semaphore(concurrency)
    lat: list[float] = []
    errors: list[str] = []

    async def one():
        async with sem:
            t = time.perf_counter()
            try:
                r = await client.post(url, json=body, headers=headers)
                r.raise_for_status()
            except httpx.HTTPError as exc:
                errors.append(f"{type(exc).__name__}: {exc}"[:200])
                return
            lat.append((time.perf_counter() - t) * 1000)

    await asyncio.gather(*[one() for _ in range(total)])
    if errors:
        print(json.dumps({"url": url, "concurrency": concurrency, "errors": len(errors),
                          "first": errors[0]}), file=sys.stderr)
    return lat


def _litellm_proxy_reason() -> str | None:
    try:
        import litellm.proxy.proxy_server  # noqa: F401
    except Exception as exc:  # noqa: BLE001
        return f"litellm[proxy] not usable here: {exc}"
    return "litellm[proxy] imports, but running it side by side is not implemented yet"


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=400)
    ap.add_argument("--latency-ms", type=float, default=20)
    args = ap.parse_args()

    import uvicorn

    from harness.eventstore import migrate
    from services.gateway import MIGRATIONS
    from services.gateway.app import create_gateway_app
    from services.gateway.config import GatewaySettings
    from services.gateway.keys import create_key
    from services.registry.runtime import Runtime
    from tests.support.stub_llm import StubLLM

    admin_url = os.environ.get("HARNESS_TEST_DATABASE_URL") or os.environ["DATABASE_URL"]
    name = f"harness_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(admin_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    from urllib.parse import urlsplit, urlunsplit

    p = urlsplit(admin_url)
    db_url = urlunsplit((p.scheme, p.netloc, "/" + name, p.query, p.fragment))
    result: dict = {"requests": args.requests, "stub_latency_ms": args.latency_ms}
    try:
        with StubLLM(latency_s=args.latency_ms / 1000) as stub:
            rt = await Runtime.start(db_url, relay=False, pool_max=30)
            async with rt.pool.acquire() as conn:
                await migrate(conn, [("gateway", MIGRATIONS)])
            settings = GatewaySettings(
                deployments={"*": {"api_base": stub.base_url, "api_key": "sk"}},
                num_retries=0, timeout_s=30)
            app = create_gateway_app(rt, settings)
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                                   log_level="warning", lifespan="off",
                                                   access_log=False))
            task = asyncio.create_task(server.serve())
            while not server.started:
                await asyncio.sleep(0.02)
            secret, _ = await create_key(rt.pool, "bench")
            body = {"model": "openai/stub-model",
                    "messages": [{"role": "user", "content": "hello there"}]}
            limits = httpx.Limits(max_connections=400, max_keepalive_connections=400)
            async with httpx.AsyncClient(timeout=60, limits=limits) as c:
                # warm-up both paths
                await _load(c, stub.base_url + "/chat/completions", {}, body | {
                    "model": "stub-model"}, 10, 20)
                await _load(c, f"http://127.0.0.1:{port}/v1/chat/completions",
                            {"Authorization": f"Bearer {secret}"}, body, 10, 20)
                for conc in (50, 200):
                    direct = await _load(c, stub.base_url + "/chat/completions", {},
                                         body | {"model": "stub-model"}, conc, args.requests)
                    via = await _load(c, f"http://127.0.0.1:{port}/v1/chat/completions",
                                      {"Authorization": f"Bearer {secret}"}, body, conc,
                                      args.requests)
                    result[f"c{conc}"] = {
                        "direct_p50_ms": round(statistics.median(direct), 2),
                        "direct_p99_ms": round(_pct(direct, 0.99), 2),
                        "gateway_p50_ms": round(statistics.median(via), 2),
                        "gateway_p99_ms": round(_pct(via, 0.99), 2),
                        "overhead_p50_ms": round(statistics.median(via)
                                                 - statistics.median(direct), 2),
                        "overhead_p99_ms": round(_pct(via, 0.99) - _pct(direct, 0.99), 2),
                        "litellm_overhead_p50_ms": None,
                        "litellm_overhead_p99_ms": None,
                    }
            await app.state.gateway.stop()
            result["traces_written"] = app.state.gateway.traces.written
            server.should_exit = True
            await task
            await rt.stop()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    for conc in (50, 200):
        result[f"c{conc}"]["ratio_p50"] = round(
            result[f"c{conc}"]["gateway_p50_ms"] / result[f"c{conc}"]["direct_p50_ms"], 2)
    result["overhead_p50_ms"] = result["c50"]["overhead_p50_ms"]
    result["overhead_p99_ms"] = result["c50"]["overhead_p99_ms"]
    result["litellm_overhead_p50_ms"] = None
    result["litellm_overhead_p99_ms"] = None
    result["litellm_proxy"] = _litellm_proxy_reason()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
