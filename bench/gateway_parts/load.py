"""Load generator in a process of its own: POST one JSON body ``--requests`` times with
``--concurrency`` in flight over kept-alive connections; prints latencies as JSON."""

from __future__ import annotations

import argparse
import asyncio
import json
import time

import aiohttp


async def run(url: str, headers: dict, body: dict, concurrency: int, total: int) -> dict:
    latencies: list[float] = []
    errors: list[str] = []
    payload = json.dumps(body).encode()
    headers = {"content-type": "application/json", **headers}
    todo = iter(range(total))
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def worker() -> None:
            for _ in todo:
                t = time.perf_counter()
                try:
                    async with session.post(url, data=payload, headers=headers) as r:
                        await r.read()
                        if r.status != 200:
                            errors.append(f"HTTP {r.status}")
                            continue
                except (aiohttp.ClientError, TimeoutError) as exc:
                    errors.append(f"{type(exc).__name__}: {exc}"[:200])
                    continue
                latencies.append((time.perf_counter() - t) * 1000)

        started = time.perf_counter()
        await asyncio.gather(*[worker() for _ in range(concurrency)])
        elapsed = time.perf_counter() - started
    return {"latencies_ms": latencies, "errors": len(errors),
            "first_error": errors[0] if errors else None, "elapsed_s": elapsed}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--header", action="append", default=[], help="NAME:VALUE")
    ap.add_argument("--body", required=True, help="JSON")
    ap.add_argument("--concurrency", type=int, required=True)
    ap.add_argument("--requests", type=int, required=True)
    args = ap.parse_args()
    headers = dict(h.split(":", 1) for h in args.header)
    print(json.dumps(asyncio.run(run(args.url, headers, json.loads(args.body),
                                     args.concurrency, args.requests))))


if __name__ == "__main__":
    main()
