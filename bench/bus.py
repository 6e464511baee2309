"""Bus benchmark: append → outbox relay → bus → subscriber handler, Pub/Sub vs in-process.

Prints one JSON document. Both sides are measured in this run, on the same database:

* ``inprocess``: ``EventStore.append`` → ``OutboxRelay`` → ``InProcessBus`` → handler.
* ``pubsub``: ``EventStore.append`` → ``OutboxRelay`` → ``PubSubBus`` (the real
  google-cloud-pubsub client, ordered publisher) → Google's Pub/Sub fake
  (``tools/pubsub-fake``, started here on a free port) → ``PubSubPullConsumer`` → handler.

For each, ``--events`` ``RunRequested`` events (one per append, over 100 streams) are
appended as fast as one connection can; the handler is the runner's subscription.
``events_per_s`` = events ÷ (last handled − first append started). Then
``--latency-events`` more are appended paced at ``--rate``/s (below both pipelines'
capacity, so no queue builds up): ``p50_ms`` / ``p99_ms`` = handler start − append
returned, per event. ``ratio`` = pubsub events/s ÷ inprocess events/s.

Usage: python bench/bus.py [--events 2000] [--latency-events 300] [--rate 40]
Database: HARNESS_BENCH_DATABASE_URL, else HARNESS_TEST_DATABASE_URL, else embedded.
Needs the fake's toolchain (``make pubsub-fake``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _db import scratch_database  # noqa: E402

from harness.bus import InProcessBus, OutboxRelay  # noqa: E402
from harness.db import create_pool  # noqa: E402
from harness.events import EventMetadata, NewEvent, StoredEvent  # noqa: E402
from harness.eventstore import EventStore  # noqa: E402
from harness.eventstore.subscription import save_checkpoint  # noqa: E402

PROJECT = "harness-bench"
STREAMS = 100


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


async def run_pipeline(pool: asyncpg.Pool, url: str, bus, relay_name: str, n: int,
                       start_consumers, stop_consumers, handled: dict,
                       rate: float | None = None) -> dict:
    """Append ``n`` events (as fast as possible, or paced at ``rate``/s) and wait until the
    handler saw them all."""
    handled.clear()
    store = EventStore(pool)
    await save_checkpoint(pool, relay_name, await store.head_position())  # only new events
    relay = OutboxRelay(store, bus, name=relay_name, retry_delay=0.1, listen_url=url)
    await start_consumers()
    task = asyncio.create_task(relay.run())
    appended: dict[uuid.UUID, float] = {}
    data = {"run_id": "bench", "dataset_id": "d", "targets": [{"model": "echo"}]}
    meta = EventMetadata(actor="bench")
    versions = [0] * STREAMS
    tag = uuid.uuid4().hex[:8]
    try:
        await asyncio.wait_for(relay.subscription.caught_up.wait(), 30)
        t0 = time.perf_counter()
        for i in range(n):
            if rate:
                delay = t0 + i / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
            s = i % STREAMS
            ev = NewEvent(type="RunRequested", data=data, metadata=meta)
            await store.append(f"run-bench-{tag}-{s}", versions[s], [ev])
            versions[s] += 1
            appended[ev.event_id] = time.perf_counter()
        deadline = time.perf_counter() + 300
        while len(handled) < n and time.perf_counter() < deadline:
            await asyncio.sleep(0.005)
        if len(handled) < n:
            raise RuntimeError(f"{relay_name}: only {len(handled)} of {n} events handled")
        t_end = max(handled.values())
    finally:
        relay.stop()
        await asyncio.wait_for(task, 30)
        await stop_consumers()
    lat = [(handled[k] - appended[k]) * 1000 for k in appended]
    return {
        "events": n,
        "seconds": round(t_end - t0, 3),
        "events_per_s": round(n / (t_end - t0), 1),
        "p50_ms": round(statistics.median(lat), 3),
        "p99_ms": round(pct(lat, 0.99), 3),
        "max_ms": round(max(lat), 3),
    }


def combine(throughput: dict, paced: dict, rate: float) -> dict:
    """events/s from the flat-out run; latency from the paced run (no queueing backlog)."""
    return {
        "events_per_s": throughput["events_per_s"],
        "p50_ms": paced["p50_ms"],
        "p99_ms": paced["p99_ms"],
        "max_ms": paced["max_ms"],
        "throughput_run": throughput,
        "latency_run": {**paced, "append_rate_per_s": rate},
    }


async def bench_inprocess(pool, url, n, latency_n, rate) -> dict:
    handled: dict[uuid.UUID, float] = {}
    bus = InProcessBus()

    async def handler(ev: StoredEvent) -> None:
        handled.setdefault(ev.event_id, time.perf_counter())

    bus.subscribe("runner", handler, types={"RunRequested"})

    async def noop() -> None:
        return None

    name = "bench-relay-inprocess"
    flat = await run_pipeline(pool, url, bus, name, n, noop, noop, handled)
    paced = await run_pipeline(pool, url, bus, name, latency_n, noop, noop, handled, rate)
    return combine(flat, paced, rate)


async def bench_pubsub(pool, url, n, latency_n, rate) -> dict:
    from tests.support.pubsub_fake import PubSubFake

    with PubSubFake() as fake:
        os.environ["PUBSUB_EMULATOR_HOST"] = fake.host
        from harness.bus.pubsub import PubSubBus, PubSubPullConsumer, ensure_topology

        ensure_topology(PROJECT, "bench-")
        bus = PubSubBus(PROJECT, prefix="bench-")
        handled: dict[uuid.UUID, float] = {}

        async def handler(ev: StoredEvent) -> None:
            handled.setdefault(ev.event_id, time.perf_counter())

        consumer = PubSubPullConsumer("bench-runs-runner", handler, project=PROJECT,
                                      max_messages=100)
        name = "bench-relay-pubsub"
        try:
            await run_pipeline(pool, url, bus, name, 100, consumer.start, consumer.stop,
                               handled)  # warm-up
            flat = await run_pipeline(pool, url, bus, name, n, consumer.start, consumer.stop,
                                      handled)
            paced = await run_pipeline(pool, url, bus, name, latency_n, consumer.start,
                                       consumer.stop, handled, rate)
        finally:
            await bus.close()
        return combine(flat, paced, rate)


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=2000, help="flat-out run (events/s)")
    ap.add_argument("--latency-events", type=int, default=300, help="paced run (latency)")
    ap.add_argument("--rate", type=float, default=40.0, help="appends/s of the paced run")
    args = ap.parse_args()

    from harness.logging import configure_logging
    from services.registry.runtime import migrate_all

    configure_logging("WARNING")  # logs go to stderr; stdout is the JSON document
    async with scratch_database("harness_bench_bus") as url:
        pool = await create_pool(url, min_size=1, max_size=8)
        try:
            await migrate_all(pool)
            await bench_inprocess(pool, url, 100, 20, args.rate)  # warm-up
            inprocess = await bench_inprocess(pool, url, args.events, args.latency_events,
                                              args.rate)
            pubsub = await bench_pubsub(pool, url, args.events, args.latency_events,
                                        args.rate)
        finally:
            await pool.close()

    from importlib.metadata import version

    print(json.dumps({
        "benchmark": "bus",
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "pubsub": pubsub,
        "inprocess": inprocess,
        "ratio": round(pubsub["events_per_s"] / inprocess["events_per_s"], 4),
        "notes": {
            "pubsub": "google-cloud-pubsub " + version("google-cloud-pubsub") + " against the "
                      "pstest fake (in-memory, loopback); each event is published to "
                      "registry-events and runs, and the relay waits for both acks",
            "latency": "append returned → handler started, appends paced at --rate/s "
                       "(below both pipelines' capacity, so no backlog); the flat-out "
                       "run's latency, backlog included, is in throughput_run",
        },
    }, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
