"""The scorer as its own process: a run that asks for metrics is scored over Google's
Pub/Sub fake (``scoring`` topic in, ``results`` topic out), with the loopback stub as the
judge, and a redelivered ``RunCompleted`` computes nothing again."""

from __future__ import annotations

import asyncio
import time

import asyncpg
import httpx
import pytest

from tests.e2e.conftest import log_count, process_stack, redeliver, stack_stub, wait_log
from tests.support.ragas_judge import PARIS, judge_reply

FAITHFUL = "Paris is the capital of France. It has 2.1 million inhabitants."
UNFAITHFUL = "Paris is the capital of Germany. It has 9 million inhabitants."


@pytest.fixture
def stack(db_url, tmp_path, monkeypatch):
    with process_stack(db_url, tmp_path, monkeypatch, workers=("scorer",)) as services:
        yield services


def wait_scored(c: httpx.Client, run_id: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        run = c.get(f"/runs/{run_id}").json()
        if run["status"] == "completed" and run["phase"] == "completed":
            return run
        assert time.monotonic() < deadline, run
        time.sleep(0.2)


def score_events(db_url: str, run_id: str) -> tuple[int, int]:
    async def q():
        conn = await asyncpg.connect(db_url)
        try:
            row = await conn.fetchrow(
                "SELECT count(*) AS n, count(DISTINCT event_id) AS ids FROM events "
                "WHERE stream_id = $1 AND type = 'ScoresRecorded'", f"run-{run_id}")
            return row["n"], row["ids"]
        finally:
            await conn.close()
    return asyncio.run(q())


def test_scores_go_through_the_scorer_process_and_a_redelivery_is_a_no_op(stack, db_url):

    c = httpx.Client(base_url=stack["registry"].url, timeout=30)
    with stack_stub(stack) as stub:
        stub.reply("judge", judge_reply)
        p = c.post("/prompts", json={"name": "rag", "content": "{{ answer }}"}).json()
        ds = c.post("/datasets", json={"name": "rag-data",
                                       "default_metrics": ["faithfulness", "bleu"]}).json()
        c.post(f"/datasets/{ds['id']}/cases", json={"cases": [
            {"input": {"question": "Paris?", "answer": a, "contexts": [PARIS]},
             "expected_output": "Paris is the capital of France."}
            for a in (FAITHFUL, UNFAITHFUL)]}).raise_for_status()
        run = c.post("/runs", json={
            "dataset_id": ds["id"], "targets": [{"prompt_id": p["id"], "model": "echo"}],
            "judge_model": "openai/judge"}).json()
        done = wait_scored(c, run["id"])
        assert done["scoring"]["scored"] == done["scoring"]["total"] == 4
        faith = done["scoring"]["by_metric"]["faithfulness"]
        assert (faith["count"], faith["min"], faith["max"]) == (2, 0.0, 1.0)
        assert score_events(db_url, run["id"]) == (4, 4)
        calls = len(stub.chat_requests)
        assert calls == 4  # two judge calls per result

        # Pub/Sub redelivers the RunCompleted (published again on its topics)
        completed = c.get("/events", params={"after": 0, "limit": 500}).json()
        event = next(e for e in completed["items"]
                     if e["type"] == "RunCompleted" and e["data"]["run_id"] == run["id"])
        handled = log_count(stack["scorer"], "scoring_already_done")
        redeliver(stack, event)
        wait_log(stack["scorer"], "scoring_already_done", more_than=handled,
                 what="the scorer did not handle the redelivery")
        assert len(stub.chat_requests) == calls
        assert score_events(db_url, run["id"]) == (4, 4)
