"""`harness projections rebuild` while writers append: no deadlock, no 500, and the read
models afterwards are what a quiet rebuild gives."""

from __future__ import annotations

import asyncio
import random

from harness.eventstore import EventStore
from services.registry.read import projections

WRITERS = 12
REBUILDS = 4


async def dump(pool) -> dict[str, list[str]]:
    out = {}
    for table in projections.read_model_tables():
        rows = await pool.fetch(f"SELECT * FROM {table}")
        out[table] = sorted(repr(tuple(r.values())) for r in rows)
    return out


def ok(r, *statuses: int) -> bool:
    """A write either succeeded or was told to come back (never a 500)."""
    if r.status_code == 503:
        assert r.json()["type"] == "urn:harness:problem:stream-busy", r.text
        assert r.headers["retry-after"]
        return False
    assert r.status_code in statuses, r.text
    return True


async def writer(client, n: int, stop: asyncio.Event, tally: dict) -> None:
    rng = random.Random(n)
    r = await client.post("/prompts", json={"name": f"p{n}", "content": "v1 {{ x }}"})
    assert r.status_code == 201, r.text
    pid = r.json()["id"]
    r = await client.post("/datasets", json={"name": f"d{n}"})
    assert r.status_code == 201, r.text
    did = r.json()["id"]
    app_id = None
    i = 0
    while not stop.is_set() or i < 3:
        i += 1
        op = rng.randrange(5)
        if op == 0:
            r = await client.post(f"/prompts/{pid}/versions",
                                  json={"content": f"v {n}.{i} {{{{ x }}}}", "activate": i % 2})
            done = ok(r, 201)
        elif op == 1:
            r = await client.put(f"/prompts/{pid}/versions/1/activate", json={"reason": "back"})
            done = ok(r, 200)
        elif op == 2:
            r = await client.post(f"/datasets/{did}/cases",
                                  json={"cases": [{"input": {"x": i}, "expected_output": "y"}]})
            done = ok(r, 201)
        elif op == 3 and app_id is None:
            r = await client.post("/applications", json={"name": f"a{n}", "model_id": "echo",
                                                         "prompt_id": pid})
            done = ok(r, 201)
            if done:
                app_id = r.json()["id"]
        else:
            r = await client.patch(f"/prompts/{pid}", json={"description": f"edit {i}"})
            done = ok(r, 200)
        tally["written" if done else "busy"] += 1


async def test_rebuilds_during_live_writes_neither_deadlock_nor_diverge(client, runtime):
    stop = asyncio.Event()
    tally = {"written": 0, "busy": 0}
    tasks = [asyncio.create_task(writer(client, n, stop, tally)) for n in range(WRITERS)]
    replayed = []
    try:
        for k in range(REBUILDS):
            while tally["written"] < (k + 1) * WRITERS:  # writers are busy in between
                await asyncio.sleep(0.01)
            replayed.append(await projections.rebuild(EventStore(runtime.pool)))
    finally:
        stop.set()
        await asyncio.gather(*tasks)
    assert len(replayed) == REBUILDS and tally["written"] > 0
    # the live read models are exactly what replaying the events gives
    live = await dump(runtime.pool)
    head = await runtime.store.head_position()
    assert await projections.rebuild(EventStore(runtime.pool)) == head
    assert await dump(runtime.pool) == live
