"""Scorer instances benchmark: does a second scorer process make a run's scoring finish
sooner? The services as separate processes on Google's Pub/Sub fake (registry, runner,
scorers; artifacts in a shared folder), a run of ``--cases`` cases in shards of
``--shard-items`` (so ``RunCompleted`` comes with one ``RunScoringShardRequested`` per
shard), scored with ``faithfulness`` (2 judge calls per result) by a judge on the loopback
stub that answers after ``--latency`` seconds (a real judge takes about that long: this is
the regime where a scorer instance's judge concurrency, 16, sets the pace).

Measured twice on the same stack: with 1 scorer process, then with 2 (a second one
started), each on its own cases (no response cache helps the second). ``scoring_s`` runs
from the run's completion to its last recorded score; ``ideal_s`` = judge calls ×
latency ÷ (16 × scorers); ``speedup_scorers`` = 1 scorer ÷ 2 scorers, goal near 2.
Each scorer takes at most ``--messages-at-once`` messages at a time
(``HARNESS_SCORER_MESSAGES_AT_ONCE``), so one cannot take every shard before the other.

Usage: python bench/scorer_instances.py [--cases 200] [--shard-items 25] [--latency 0.5]
                                        [--messages-at-once 2]
Needs: the Pub/Sub fake (``make pubsub-fake``). Database: as bench/_db.py.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _db import scratch_database  # noqa: E402
from _stub import start_stub  # noqa: E402

JUDGE_STUB = """
import sys, time
from tests.support.ragas_judge import judge_reply
from tests.support.stub_llm import StubLLM
stub = StubLLM(latency_s=float(sys.argv[1])).start()
stub.reply("judge", judge_reply)
print(stub.base_url, flush=True)
while True:
    time.sleep(3600)
"""

JUDGE_CONCURRENCY = 16  # a scorer instance's (RunScorer's default)


async def _scored_run(c: httpx.AsyncClient, db: str, tag: str, cases: int,
                      timeout: float) -> dict:
    """A run of ``cases`` new cases scored with faithfulness; its timings."""
    import asyncpg

    from tests.support.ragas_judge import PARIS

    p = (await c.post("/prompts", json={"name": f"rag-{tag}",
                                        "content": "{{ answer }}"})).json()
    ds = (await c.post("/datasets", json={"name": f"rag-{tag}",
                                          "default_metrics": ["faithfulness"]})).json()
    # distinct answers: no scorer answers a prompt from its response cache
    r = await c.post(f"/datasets/{ds['id']}/cases", json={"cases": [
        {"input": {"question": "Paris?", "contexts": [PARIS],
                   "answer": f"Paris is the capital of France. Case {tag} {i} is here."}}
        for i in range(cases)]})
    r.raise_for_status()
    run = await c.post("/runs", json={"dataset_id": ds["id"], "judge_model": "openai/judge",
                                      "targets": [{"prompt_id": p["id"], "model": "echo"}]})
    run.raise_for_status()
    run_id = run.json()["id"]
    deadline = time.monotonic() + timeout
    completed_at = None
    while True:
        got = (await c.get(f"/runs/{run_id}")).json()
        if completed_at is None and got["status"] == "completed":
            completed_at = time.perf_counter()
        if got["status"] == "completed" and got.get("phase") == "completed":
            scored_at = time.perf_counter()
            break
        if got["status"] in ("failed", "cancelled") or time.monotonic() > deadline:
            raise RuntimeError(f"run {run_id}: {got['status']} / {got.get('phase')}")
        await asyncio.sleep(0.05)
    conn = await asyncpg.connect(db)
    try:
        shards = await conn.fetchval(
            "SELECT count(*) FROM events WHERE stream_id = $1 "
            "AND type = 'RunScoringShardRequested'", f"run-{run_id}")
    finally:
        await conn.close()
    return {"run_id": run_id, "scoring_s": scored_at - completed_at,
            "scoring_shards": shards, "scored": got["scoring"]["scored"]}


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=200)
    ap.add_argument("--shard-items", type=int, default=25)
    ap.add_argument("--latency", type=float, default=0.5)
    ap.add_argument("--messages-at-once", type=int, default=2)
    args = ap.parse_args()

    from harness.devstack import FAKE_BIN, ServiceProcess, service_env, start_services, wait_tcp
    from harness.net import free_port

    if not FAKE_BIN.exists():
        sys.exit(f"{FAKE_BIN} is missing: run `make pubsub-fake`")
    port = free_port()
    fake = subprocess.Popen([str(FAKE_BIN), "-host", "127.0.0.1", "-port", str(port)],
                            stdout=subprocess.DEVNULL)
    stub, base_url = start_stub(args.latency, JUDGE_STUB)
    processes: list[ServiceProcess] = []
    try:
        wait_tcp("127.0.0.1", port)
        async with scratch_database("harness_bench_scorer_instances") as db:
            with tempfile.TemporaryDirectory() as tmp:
                env = service_env(database_url=db, pubsub_host=f"127.0.0.1:{port}",
                                  storage_host=None,
                                  artifacts_uri=f"file://{Path(tmp) / 'artifacts'}",
                                  data_dir=Path(tmp), prefix="bench-")
                env.update({
                    "HARNESS_LOG_LEVEL": "WARNING", "OPENAI_API_KEY": "sk-bench",
                    "HARNESS_LLM_DEPLOYMENTS": json.dumps({"*": {"api_base": base_url}}),
                    "HARNESS_RUN_SHARD_ITEMS": str(args.shard_items),
                    "HARNESS_SCORER_MESSAGES_AT_ONCE": str(args.messages_at_once),
                    "HARNESS_PUBSUB_ACK_DEADLINE_S": "60"})
                os.environ["PUBSUB_EMULATOR_HOST"] = env["PUBSUB_EMULATOR_HOST"]
                registry, runner = start_services(env, log_dir=Path(tmp) / "logs")
                processes += [registry, runner]
                worker_env = {**env, "HARNESS_URL": registry.url}

                def scorer(i: int) -> ServiceProcess:
                    s = ServiceProcess("scorer", worker_env).start(Path(tmp) / f"scorer-{i}")
                    processes.append(s)
                    return s

                async with httpx.AsyncClient(base_url=registry.url, timeout=60) as c:
                    scorer(1)
                    # imports and connection pools of the processes
                    await _scored_run(c, db, "warm-up", args.shard_items * 2, 600)
                    one = await _scored_run(c, db, "one", args.cases, 1200)
                    scorer(2)
                    await _scored_run(c, db, "warm-up-2", args.shard_items * 4, 600)
                    two = await _scored_run(c, db, "two", args.cases, 1200)
    finally:
        for p in reversed(processes):
            p.stop()
        stub.terminate()
        fake.terminate()
    calls = 2 * args.cases  # faithfulness: statements, then verdicts
    ideal = [calls * args.latency / (JUDGE_CONCURRENCY * n) for n in (1, 2)]
    print(json.dumps({
        "benchmark": "scorer_instances", "cases": args.cases, "judge_calls": calls,
        "latency_s": args.latency, "shard_items": args.shard_items,
        "scoring_shards": [one["scoring_shards"], two["scoring_shards"]],
        "scored": [one["scored"], two["scored"]],
        "scoring_s_1_scorer": round(one["scoring_s"], 3),
        "scoring_s_2_scorers": round(two["scoring_s"], 3),
        "ideal_s": [round(x, 3) for x in ideal],
        "wall_over_ideal": [round(one["scoring_s"] / ideal[0], 3),
                            round(two["scoring_s"] / ideal[1], 3)],
        "speedup_scorers": round(one["scoring_s"] / two["scoring_s"], 3),
        "cpus": os.cpu_count(), "load_average": os.getloadavg(),
        "goal": {"speedup_scorers": "near 2 (the judge's latency sets the pace)"},
    }, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
