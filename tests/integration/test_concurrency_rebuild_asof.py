import asyncio
import random

from harness.eventstore import EventStore
from services.registry.domain.prompts import replay
from services.registry.read import projections

TABLE_QUERIES = {
    "prompts": "SELECT * FROM prompts ORDER BY id",
    "prompt_versions": "SELECT * FROM prompt_versions ORDER BY prompt_id, version",
    "applications": "SELECT * FROM applications ORDER BY id",
}


async def invariants(pool, pid):
    rows = await pool.fetch(
        "SELECT version, is_active FROM prompt_versions WHERE prompt_id = $1 ORDER BY version", pid)
    versions = [r["version"] for r in rows]
    assert versions == list(range(1, len(versions) + 1)), versions
    assert sum(r["is_active"] for r in rows) == 1
    return len(versions)


async def test_50_concurrent_activations_and_version_creations(client, runtime):
    pid = (await client.post("/prompts", json={"name": "hot", "content": "v1"})).json()["id"]
    rng = random.Random(7)
    stop = asyncio.Event()
    checks = 0

    async def watcher():
        nonlocal checks
        while not stop.is_set():
            await invariants(runtime.pool, pid)
            checks += 1
            await asyncio.sleep(0)

    async def op(i):
        if i % 2 == 0:
            r = await client.post(f"/prompts/{pid}/versions",
                                  json={"content": f"v from {i}", "activate": i % 4 == 0})
            assert r.status_code == 201, r.text
        else:
            latest = (await client.get(f"/prompts/{pid}")).json()["latest_version"]
            r = await client.put(f"/prompts/{pid}/versions/{rng.randint(1, latest)}/activate",
                                 json={"reason": f"op {i}"})
            assert r.status_code == 200, r.text
        await invariants(runtime.pool, pid)  # after every step

    w = asyncio.create_task(watcher())
    await asyncio.gather(*[op(i) for i in range(50)])
    stop.set()
    await w
    n = await invariants(runtime.pool, pid)
    assert n == 26 and checks > 0
    # the event stream agrees with the read model
    state = replay(await runtime.store.read_stream(f"prompt-{pid}"))
    active = await runtime.pool.fetchval(
        "SELECT version FROM prompt_versions WHERE prompt_id = $1 AND is_active", pid)
    assert sorted(state.versions) == list(range(1, 27)) and state.active_version == active


async def dump(pool):
    out = {}
    for table, q in TABLE_QUERIES.items():
        out[table] = [dict(r) for r in await pool.fetch(q)]
    return out


async def test_rebuild_reproduces_read_models_row_for_row(client, runtime):
    ids = []
    for name in ("alpha", "beta", "gamma"):
        ids.append((await client.post("/prompts", json={
            "name": name, "content": [{"role": "user", "content": f"{name} {{{{ x }}}}"}]}
        )).json()["id"])
    for i, pid in enumerate(ids):
        for j in range(i + 2):
            await client.post(f"/prompts/{pid}/versions",
                              json={"content": f"{j} {{{{ y }}}}", "activate": j % 2 == 1},
                              headers={"X-Actor": f"user{j}"})
        await client.put(f"/prompts/{pid}/versions/1/activate", json={"reason": "rollback"})
    await client.patch(f"/prompts/{ids[0]}", json={"name": "alpha2", "description": "d"})
    a = (await client.post("/applications", json={"name": "bot", "model_id": "echo",
                                                  "prompt_id": ids[1]})).json()
    await client.patch(f"/applications/{a['id']}", json={"temperature": 0.1, "prompt_id": ids[2],
                                                         "fallback_models": ["x"]})
    before = await dump(runtime.pool)
    assert len(before["prompt_versions"]) == 12
    replayed = await projections.rebuild(EventStore(runtime.pool))
    assert replayed == await runtime.store.head_position()
    assert await dump(runtime.pool) == before
