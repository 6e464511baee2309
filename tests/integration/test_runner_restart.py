"""A runner killed mid-run (SIGKILL) and restarted completes the run with every case
recorded exactly once."""

import asyncio
import json
import os
import subprocess
import sys
import time

import asyncpg
import httpx

from harness.net import free_port
from tests.support import processes
from tests.support.stub_llm import StubLLM


def start(db_url: str, data_dir: str, port: int, stub: StubLLM) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": db_url, "HARNESS_DATA_DIR": data_dir,
           "OPENAI_API_KEY": "sk-test", "HARNESS_LOG_LEVEL": "WARNING",
           "HARNESS_LLM_DEPLOYMENTS": json.dumps({"*": {"api_base": stub.base_url}})}
    proc = processes.spawn([sys.executable, "-m", "services.cli", "up", "--port", str(port),
                            "--no-studio"],
                           env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(300):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.1)
    processes.kill(proc)
    raise AssertionError("harness up did not start")


async def _recorded(db_url: str, run_id: str) -> int:
    conn = await asyncpg.connect(db_url)
    try:
        return await conn.fetchval("SELECT recorded FROM runs WHERE id = $1", run_id)
    finally:
        await conn.close()


def test_killed_runner_resumes_and_records_each_case_once(db_url, tmp_path):
    with StubLLM(latency_s=0.05) as stub:
        port = free_port()
        proc = start(db_url, str(tmp_path), port, stub)
        try:
            c = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
            p = c.post("/prompts", json={"name": "p", "content": "echo {{ i }}"}).json()
            ds = c.post("/datasets", json={"name": "d"}).json()
            c.post(f"/datasets/{ds['id']}/cases", json={"cases": [
                {"input": {"i": i}, "assert": [{"type": "contains", "value": f"echo {i}"}]}
                for i in range(60)]})
            run = c.post("/runs", json={"dataset_id": ds["id"], "concurrency": 3, "targets": [
                {"prompt_id": p["id"], "model": "openai/stub"}]}).json()
            for _ in range(3000):
                if c.get(f"/runs/{run['id']}").json()["recorded"] >= 15:
                    break
                time.sleep(0.02)
        finally:
            processes.kill(proc)
        # the server is gone: read the count from the database
        recorded_at_kill = asyncio.run(_recorded(db_url, run["id"]))
        assert 15 <= recorded_at_kill < 60, recorded_at_kill
        port2 = free_port()
        proc2 = start(db_url, str(tmp_path), port2, stub)
        try:
            c2 = httpx.Client(base_url=f"http://127.0.0.1:{port2}", timeout=30)
            deadline = time.monotonic() + 60
            while (state := c2.get(f"/runs/{run['id']}").json())["status"] != "completed":
                assert time.monotonic() < deadline, state
                time.sleep(0.05)
        finally:
            processes.stop(proc2)
        assert state["recorded"] == 60 and state["passed"] == 60
        assert len(stub.chat_requests) >= 60

    async def count_events():
        conn = await asyncpg.connect(db_url)
        try:
            return await conn.fetchrow(
                "SELECT count(*) FILTER (WHERE type = 'CaseResultRecorded') AS results, "
                "count(DISTINCT data->'result'->>'case_id') AS cases, "
                "count(*) FILTER (WHERE type = 'RunCompleted') AS completed "
                "FROM events WHERE stream_id = $1", f"run-{run['id']}")
        finally:
            await conn.close()

    row = asyncio.run(count_events())
    assert (row["results"], row["cases"], row["completed"]) == (60, 60, 1)
