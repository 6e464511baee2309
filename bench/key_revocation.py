"""Key revocation benchmark: how long a revoked gateway key keeps working on another
instance, now (NOTIFY harness_keys) against the bound it had before (the key cache's TTL).

Two gateway instances (each its own runtime, pool and LISTEN connection) on one database;
the key is used on both (so both cache it), revoked through instance A's
``DELETE /gateway/keys/{id}``, and instance B is asked again and again until it answers
401. Prints one JSON document: per trial the milliseconds from the revoke's answer to B's
first 401, and how many requests B still accepted meanwhile.

Usage: python bench/key_revocation.py [--trials 20]
Database: HARNESS_BENCH_DATABASE_URL, else HARNESS_TEST_DATABASE_URL, else embedded.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from contextlib import asynccontextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _db import scratch_database  # noqa: E402

from harness.logging import configure_logging  # noqa: E402
from services.bootstrap import gateway_app  # noqa: E402
from services.gateway.config import GatewaySettings  # noqa: E402
from services.registry.runtime import Runtime  # noqa: E402

CHAT = {"model": "echo", "messages": [{"role": "user", "content": "hi"}]}


@asynccontextmanager
async def instance(url: str):
    rt = await Runtime.start(url, relay=False, pool_max=4)
    app = gateway_app(rt, GatewaySettings(num_retries=0))
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://gw") as h:
            yield app, h
    finally:
        await app.state.gateway.stop()
        await rt.stop()


async def trial(a: httpx.AsyncClient, b: httpx.AsyncClient) -> tuple[float, int]:
    r = (await a.post("/gateway/keys", json={"name": "bench"})).json()
    auth = {"Authorization": f"Bearer {r['key']}"}
    for h in (a, b):
        assert (await h.post("/v1/chat/completions", json=CHAT, headers=auth)).status_code == 200
    await a.delete(f"/gateway/keys/{r['id']}")
    revoked = time.perf_counter()
    accepted = 0
    while (await b.post("/v1/chat/completions", json=CHAT, headers=auth)).status_code == 200:
        accepted += 1
        if time.perf_counter() - revoked > 30:
            raise RuntimeError("instance B never refused the revoked key")
    return (time.perf_counter() - revoked) * 1000, accepted


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=20)
    args = ap.parse_args()
    configure_logging("WARNING")
    async with scratch_database("harness_bench_revoke") as url, \
            instance(url) as (_, a), instance(url) as (b_app, b):
        ttl_s = b_app.state.gateway.keys.ttl_s
        results = [await trial(a, b) for _ in range(args.trials)]
    ms = [m for m, _ in results]
    print(json.dumps({
        "benchmark": "key_revocation",
        "trials": args.trials,
        "revoked_to_refused_on_other_instance_ms": {
            "p50": round(statistics.median(ms), 1), "max": round(max(ms), 1),
            "all": [round(m, 1) for m in ms]},
        "requests_still_accepted": {"max": max(n for _, n in results),
                                    "total": sum(n for _, n in results)},
        "bound_before": {"what": "the key cache's TTL (no notification)",
                         "ms": ttl_s * 1000},
    }, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
