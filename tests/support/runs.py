"""Helpers shared by the run pipeline tests."""

from __future__ import annotations

import asyncio


async def wait_run(client, run_id: str, timeout: float = 60, statuses=("completed", "cancelled",
                                                                       "failed")) -> dict:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        run = (await client.get(f"/runs/{run_id}")).json()
        if run["status"] in statuses:
            return run
        assert asyncio.get_running_loop().time() < deadline, f"run still {run['status']}: {run}"
        await asyncio.sleep(0.05)


async def seed(client, *, cases: list[dict], versions: list, name="qa", default_assert=None):
    """A prompt with the given versions (v1 first) and a dataset with the given cases."""
    p = (await client.post("/prompts", json={"name": f"{name}-prompt",
                                             "content": versions[0]})).json()
    for content in versions[1:]:
        await client.post(f"/prompts/{p['id']}/versions", json={"content": content})
    ds = (await client.post("/datasets", json={"name": f"{name}-data",
                                               "default_assert": default_assert or []})).json()
    r = await client.post(f"/datasets/{ds['id']}/cases", json={"cases": cases})
    assert r.status_code == 201, r.text
    return p, ds
