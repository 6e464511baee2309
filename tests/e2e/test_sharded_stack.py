"""One run over 3 runner processes on Google's Pub/Sub fake: the run's shards are spread
over every runner, each item is recorded once and the registry completes the run once,
also when one runner is killed (SIGKILL) mid-run: its shards are redelivered and the
others finish them, skipping what it recorded."""

from __future__ import annotations

import time

import httpx
import pytest

from harness.devstack import ServiceProcess
from tests.e2e.conftest import log_count, process_stack, stack_stub
from tests.e2e.test_stack import result_events, seed, wait_run

CASES = 48
SHARD_ITEMS = 4  # 12 shards


@pytest.fixture
def stack(db_url, tmp_path, monkeypatch):
    with process_stack(db_url, tmp_path, monkeypatch,
                       extra_env={"HARNESS_RUN_SHARD_ITEMS": str(SHARD_ITEMS),
                                  "HARNESS_RUNNER_SHARDS_AT_ONCE": "1"}) as services:
        env = {**services["env"], "HARNESS_URL": services["registry"].url}
        extra = [ServiceProcess("runner", env).start(services["logs"] / f"runner-{i}")
                 for i in (2, 3)]
        try:
            yield {**services, "runners": [services["runner"], *extra]}
        finally:
            for runner in extra:
                runner.stop()


def _shard_events(db_url: str, run_id: str) -> int:
    import asyncio

    import asyncpg

    async def q():
        conn = await asyncpg.connect(db_url)
        try:
            return await conn.fetchval("SELECT count(*) FROM events WHERE stream_id = $1 AND "
                                       "type = 'RunShardRequested'", f"run-{run_id}")
        finally:
            await conn.close()
    return asyncio.run(q())


def _request(c: httpx.Client) -> dict:
    p, ds = seed(c, CASES)
    return c.post("/runs", json={"dataset_id": ds["id"], "concurrency": 2, "targets": [
        {"prompt_id": p["id"], "model": "openai/slow"}]}).json()


def test_a_run_is_spread_over_every_runner_and_each_item_recorded_once(stack, db_url):
    c = httpx.Client(base_url=stack["registry"].url, timeout=30)
    with stack_stub(stack, latency_s=0.05):
        run = _request(c)
        done = wait_run(c, run["id"], timeout=180)
    assert done["status"] == "completed" and done["recorded"] == CASES
    assert done["passed"] == CASES and done["summary"]["total"]["passed"] == CASES
    assert _shard_events(db_url, run["id"]) == CASES // SHARD_ITEMS
    counts = result_events(db_url, run["id"])
    assert (counts["results"], counts["ids"], counts["completed"]) == (CASES, CASES, 1)
    took = [log_count(r, "shard_started") for r in stack["runners"]]
    assert all(n > 0 for n in took), f"shards taken per runner: {took}"


def test_a_runner_killed_mid_run_leaves_its_shards_to_the_others(stack, db_url):
    c = httpx.Client(base_url=stack["registry"].url, timeout=30)
    victim, *others = stack["runners"]
    with stack_stub(stack, latency_s=0.1):
        run = _request(c)
        deadline = time.monotonic() + 120
        # the run has results recorded and the victim a shard in hand, unfinished
        while c.get(f"/runs/{run['id']}").json()["recorded"] < 8 or \
                log_count(victim, "shard_started") <= log_count(victim, "shard_recorded"):
            assert time.monotonic() < deadline, "no shard in the victim's hands"
            time.sleep(0.02)
        victim.kill()  # SIGKILL: its shard's message is never acked
        finished_by_victim = log_count(victim, "shard_recorded")
        done = wait_run(c, run["id"], timeout=240)
    assert done["status"] == "completed" and done["recorded"] == CASES
    assert done["passed"] == CASES
    counts = result_events(db_url, run["id"])
    assert (counts["results"], counts["ids"], counts["completed"]) == (CASES, CASES, 1)
    started = [log_count(r, "shard_started") for r in others]
    assert all(n > 0 for n in started)
    # every shard the victim did not finish, the one it held included, was taken by the
    # others: that one only by redelivery
    assert sum(started) >= CASES // SHARD_ITEMS - finished_by_victim
