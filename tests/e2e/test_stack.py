"""End to end on the multi-process stack: registry and runner as separate processes over
Google's Pub/Sub fake (pull delivery) and the GCS emulator, on a real PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import time

import asyncpg
import httpx
import pytest

from harness.devstack import ServiceProcess
from tests.e2e.conftest import process_stack, stack_stub


@pytest.fixture
def stack(db_url, tmp_path, monkeypatch):
    with process_stack(db_url, tmp_path, monkeypatch, workers=()) as services:
        yield services


def wait_run(c: httpx.Client, run_id: str, timeout: float = 90) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        run = c.get(f"/runs/{run_id}").json()
        if run["status"] in ("completed", "failed", "cancelled") and \
                run["recorded"] >= run["expected_results"]:
            return run
        assert time.monotonic() < deadline, run
        time.sleep(0.1)


def seed(c: httpx.Client, n: int, content: str = "Hello {{ name }}") -> tuple[dict, dict]:
    p = c.post("/prompts", json={"name": "greeting", "content": content}).json()
    ds = c.post("/datasets", json={"name": "names"}).json()
    r = c.post(f"/datasets/{ds['id']}/cases", json={"cases": [
        {"input": {"name": f"n{i}"}, "assert": [{"type": "contains", "value": f"n{i}"}]}
        for i in range(n)]})
    assert r.status_code == 201, r.text
    return p, ds


def result_events(db_url: str, run_id: str) -> asyncpg.Record:
    async def q():
        conn = await asyncpg.connect(db_url)
        try:
            return await conn.fetchrow(
                "SELECT count(*) FILTER (WHERE type = 'CaseResultRecorded') AS results, "
                "count(DISTINCT event_id) FILTER (WHERE type = 'CaseResultRecorded') AS ids, "
                "count(*) FILTER (WHERE type = 'RunCompleted') AS completed "
                "FROM events WHERE stream_id = $1", f"run-{run_id}")
        finally:
            await conn.close()
    return asyncio.run(q())


def runner_traces(db_url: str, run_id: str) -> int:
    async def q():
        conn = await asyncpg.connect(db_url)
        try:
            return await conn.fetchval("SELECT count(*) FROM gateway_traces WHERE "
                                       "source = 'runner' AND run_id = $1", run_id)
        finally:
            await conn.close()
    return asyncio.run(q())


def test_run_goes_through_separate_processes_and_gcs(stack, db_url):
    c = httpx.Client(base_url=stack["registry"].url, timeout=30)
    p, ds = seed(c, 12)
    run = c.post("/runs", json={"dataset_id": ds["id"], "targets": [
        {"prompt_id": p["id"], "model": "echo"}]}).json()
    assert run["snapshot_uri"].startswith("gs://harness/artifacts/snapshots/")
    done = wait_run(c, run["id"])
    assert done["status"] == "completed" and done["passed"] == 12
    assert done["summary"]["verdict"] == "pass"
    blob = stack["gcs"].client().bucket("harness").blob(
        run["snapshot_uri"].removeprefix("gs://harness/"))
    assert blob.download_as_bytes().count(b"\n") == 12
    assert result_events(db_url, run["id"])["results"] == 12
    # the runner has no database: its LLM calls' traces reach the registry's POST /traces
    deadline = time.monotonic() + 20
    while (n := runner_traces(db_url, run["id"])) < 12 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert n == 12


def test_runner_killed_mid_run_and_registry_restarted_record_each_case_once(stack, db_url):
    c = httpx.Client(base_url=stack["registry"].url, timeout=30)
    with stack_stub(stack, latency_s=0.05):
        p, ds = seed(c, 40)
        run = c.post("/runs", json={"dataset_id": ds["id"], "concurrency": 2, "targets": [
            {"prompt_id": p["id"], "model": "openai/slow"}]}).json()
        deadline = time.monotonic() + 60
        while c.get(f"/runs/{run['id']}").json()["recorded"] < 8:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        stack["runner"].kill()  # SIGKILL mid-run
        # the registry restarts too (SIGTERM: a graceful stop), while results may still be
        # in flight on Pub/Sub
        assert stack["registry"].stop() in (0, -15)
        assert stack["registry"].stopped_cleanly()
        registry = ServiceProcess("registry", dict(stack["env"]),
                                  port=stack["registry"].port).start(stack["logs"])
        stack["registry"] = registry
        runner = ServiceProcess("runner", {**stack["env"], "HARNESS_URL": registry.url}
                                ).start(stack["logs"])
        stack["runner"] = runner
        done = wait_run(c, run["id"], timeout=120)
    assert done["status"] == "completed" and done["recorded"] == 40 and done["passed"] == 40
    counts = result_events(db_url, run["id"])
    assert (counts["results"], counts["ids"], counts["completed"]) == (40, 40, 1)


def test_redelivered_results_change_nothing(stack, db_url):
    """Publish every result of a finished run again (as Pub/Sub may redeliver)."""
    from harness.bus.pubsub import PubSubBus
    from harness.events import EventMetadata
    from harness.events.run_events import CaseResultRecorded, result_event_id

    c = httpx.Client(base_url=stack["registry"].url, timeout=30)
    p, ds = seed(c, 10)
    run = c.post("/runs", json={"dataset_id": ds["id"], "targets": [
        {"prompt_id": p["id"], "model": "echo"}]}).json()
    wait_run(c, run["id"])
    before = result_events(db_url, run["id"])
    results = c.get(f"/runs/{run['id']}/results").json()["items"]
    env = stack["env"]

    async def republish():
        bus = PubSubBus(env["GOOGLE_CLOUD_PROJECT"], prefix=env["HARNESS_TOPIC_PREFIX"])
        try:
            for r in results:
                await bus.publish_result(
                    f"run-{run['id']}", CaseResultRecorded(run_id=run["id"], result=r),
                    result_event_id(run["id"], r["case_id"], r["target_id"], r["repeat"]),
                    EventMetadata(actor="test"))
        finally:
            await bus.close()

    os.environ["PUBSUB_EMULATOR_HOST"] = env["PUBSUB_EMULATOR_HOST"]
    asyncio.run(republish())
    time.sleep(2)  # give the registry time to pull and ingest them
    after = result_events(db_url, run["id"])
    assert tuple(after) == tuple(before)
    assert c.get(f"/runs/{run['id']}").json()["recorded"] == 10


def test_activation_reaches_a_subscribed_client_without_a_deploy(stack):
    from harness.client import HarnessClient

    c = httpx.Client(base_url=stack["registry"].url, timeout=30)
    p = c.post("/prompts", json={"name": "live", "content": "v1 {{ x }}"}).json()
    app = c.post("/applications", json={"name": "live-app", "model_id": "echo",
                                         "prompt_id": p["id"]}).json()
    c.post(f"/prompts/{p['id']}/versions", json={"content": "v2 {{ x }}"})
    with HarnessClient(stack["registry"].url, refresh="sse") as client:
        assert client.resolve("live-app").version == 1
        client.wait_connected()
        started = time.monotonic()
        c.put(f"/prompts/{p['id']}/versions/2/activate", json={"reason": "ship"})
        while client.cached("live-app") is None or client.cached("live-app").version != 2:
            assert time.monotonic() - started < 60, "activation did not reach the client"
            time.sleep(0.02)
        assert client.resolve(app["id"]).content == "v2 {{ x }}"


def test_sigterm_releases_in_flight_work_and_the_run_resumes(stack, db_url):
    c = httpx.Client(base_url=stack["registry"].url, timeout=30)
    with stack_stub(stack, latency_s=0.05):
        p, ds = seed(c, 30)
        run = c.post("/runs", json={"dataset_id": ds["id"], "concurrency": 2, "targets": [
            {"prompt_id": p["id"], "model": "openai/slow"}]}).json()
        deadline = time.monotonic() + 60
        while c.get(f"/runs/{run['id']}").json()["recorded"] < 5:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        # SIGTERM, as Cloud Run sends: a clean exit (a SIGKILL after 30 s would be -9)
        assert stack["runner"].stop(timeout=30) in (0, -15)
        assert stack["runner"].stopped_cleanly()
        stack["runner"] = ServiceProcess("runner", {**stack["env"],
                                                    "HARNESS_URL": stack["registry"].url}
                                         ).start(stack["logs"])
        done = wait_run(c, run["id"], timeout=120)
    assert done["recorded"] == 30 and done["passed"] == 30
    counts = result_events(db_url, run["id"])
    assert (counts["results"], counts["ids"]) == (30, 30)
