"""A large run's scoring shared out over scorer processes on Google's Pub/Sub fake: a run
of several runner shards that asks for metrics is completed with one
``RunScoringShardRequested`` per shard, every scorer process takes some, each result is
scored once, and a redelivered scoring shard computes nothing again."""

from __future__ import annotations

import time

import httpx
import pytest

from harness.devstack import ServiceProcess
from tests.e2e.conftest import log_count, process_stack, redeliver, stack_stub
from tests.e2e.test_scorer_stack import FAITHFUL, UNFAITHFUL, score_events, wait_scored
from tests.support.ragas_judge import PARIS, judge_reply

CASES = 16
SHARD_ITEMS = 2  # 8 runner shards, 8 scoring shards


@pytest.fixture
def stack(db_url, tmp_path, monkeypatch):
    with process_stack(db_url, tmp_path, monkeypatch, workers=("scorer",),
                       extra_env={"HARNESS_RUN_SHARD_ITEMS": str(SHARD_ITEMS),
                                  "HARNESS_SCORER_MESSAGES_AT_ONCE": "1"}) as services:
        env = {**services["env"], "HARNESS_URL": services["registry"].url}
        second = ServiceProcess("scorer", env).start(services["logs"] / "scorer-2")
        try:
            yield {**services, "scorers": [services["scorer"], second]}
        finally:
            second.stop()


def test_a_runs_scoring_shards_are_spread_over_every_scorer(stack, db_url):
    c = httpx.Client(base_url=stack["registry"].url, timeout=30)
    # a judge that takes its time: one scorer cannot take every shard before the other
    with stack_stub(stack, latency_s=0.3) as stub:
        stub.reply("judge", judge_reply)
        p = c.post("/prompts", json={"name": "rag", "content": "{{ answer }}"}).json()
        ds = c.post("/datasets", json={"name": "rag-data",
                                       "default_metrics": ["faithfulness"]}).json()
        c.post(f"/datasets/{ds['id']}/cases", json={"cases": [
            {"input": {"question": "Paris?", "answer": (FAITHFUL, UNFAITHFUL)[i % 2],
                       "contexts": [PARIS], "i": i}}
            for i in range(CASES)]}).raise_for_status()
        run = c.post("/runs", json={
            "dataset_id": ds["id"], "targets": [{"prompt_id": p["id"], "model": "echo"}],
            "judge_model": "openai/judge"}).json()
        done = wait_scored(c, run["id"], timeout=240)
        assert done["scoring"]["scored"] == done["scoring"]["total"] == CASES
        faith = done["scoring"]["by_metric"]["faithfulness"]
        assert (faith["count"], faith["min"], faith["max"]) == (CASES, 0.0, 1.0)
        assert score_events(db_url, run["id"]) == (CASES, CASES)
        calls = len(stub.chat_requests)
        # two judge calls per result at most (a process answers a prompt it asked before
        # from its cache: the cases repeat two answers)
        assert 0 < calls <= 2 * CASES
        events = c.get("/events", params={"after": 0, "limit": 1000}).json()["items"]
        mine = [e for e in events if e["data"].get("run_id") == run["id"]]
        completed = next(e for e in mine if e["type"] == "RunCompleted")
        shards = [e for e in mine if e["type"] == "RunScoringShardRequested"]
        assert completed["data"]["scoring_shards"] == len(shards) == CASES // SHARD_ITEMS
        took = [log_count(s, "scoring_completed") for s in stack["scorers"]]
        assert sum(took) == CASES // SHARD_ITEMS and all(n > 0 for n in took), took

        # Pub/Sub redelivers a scoring shard: nothing is computed again
        handled = sum(log_count(s, "scoring_already_done") for s in stack["scorers"])
        redeliver(stack, shards[0])
        _wait_any(stack["scorers"], "scoring_already_done", handled)
        assert len(stub.chat_requests) == calls
        assert score_events(db_url, run["id"]) == (CASES, CASES)


def _wait_any(services, marker: str, more_than: int, timeout: float = 60) -> None:
    """Wait until ``services`` together logged ``marker`` more than ``more_than`` times."""
    deadline = time.monotonic() + timeout
    while sum(log_count(s, marker) for s in services) <= more_than:
        assert time.monotonic() < deadline, f"no {marker!r} within {timeout} s"
        time.sleep(0.1)
