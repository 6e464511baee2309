"""Online evaluation on the deployed path: the gateway, the registry and the scorer as
separate processes over Google's Pub/Sub fake (as on Cloud Run, with pull delivery).

Requests through the gateway are stored as traces; the registry's sampler records
``TraceSampled`` for each trace an active evaluator selects and samples (the outbox relay
puts it on the ``scoring`` topic); the scorer reads the evaluator and the trace from the
registry, judges it (the loopback stub) and proposes ``TraceScored`` on ``results``.
Every sampled trace is scored exactly once (events counted, judge calls counted): with
the scorer killed and started again while traffic flows, with a ``TraceSampled``
delivered again, and with the sampler reading every trace again from the start."""

from __future__ import annotations

import asyncio
import time

import asyncpg
import httpx
import pytest

from harness.devstack import start_worker
from harness.evaluation.online import sampled
from tests.e2e.conftest import log_count, process_stack, redeliver, stack_stub, wait_log

VERDICT = '{"pass": true, "score": 0.75, "reason": "polite enough"}'


@pytest.fixture
def stack(db_url, tmp_path, monkeypatch):
    with process_stack(db_url, tmp_path, monkeypatch, workers=("scorer", "gateway")) as s:
        yield s


def query(db_url: str, sql: str, *args) -> list[asyncpg.Record]:
    async def q():
        conn = await asyncpg.connect(db_url)
        try:
            return await conn.fetch(sql, *args)
        finally:
            await conn.close()
    return asyncio.run(q())


def events_of(db_url: str, type_: str) -> list[tuple[str, str]]:
    """(trace id, evaluator id) of every stored event of ``type_``."""
    return [(r["t"], r["e"]) for r in query(
        db_url, "SELECT data->>'trace_id' AS t, data->>'evaluator_id' AS e FROM events "
        "WHERE type = $1", type_)]


def gateway_trace_ids(db_url: str) -> list[str]:
    return [str(r["id"]) for r in query(
        db_url, "SELECT id FROM gateway_traces WHERE source = 'gateway' ORDER BY id")]


def wait_until(check, what: str, timeout: float = 120):
    deadline = time.monotonic() + timeout
    while not (got := check()):
        assert time.monotonic() < deadline, f"{what} within {timeout} s"
        time.sleep(0.2)
    return got


def test_sampled_traces_are_scored_once_through_the_scorer_service(stack, db_url):
    reg = httpx.Client(base_url=stack["registry"].url, timeout=30)
    gw = httpx.Client(base_url=stack["gateway"].url, timeout=30)

    def evaluator(body: dict) -> str:
        r = reg.post("/evaluators", json=body)
        assert r.status_code == 201, r.text
        return r.json()["id"]

    polite = evaluator({"name": "polite", "judge_model": "openai/judge",
                        "assertion": {"type": "llm-rubric", "value": "is polite"},
                        "traffic": {"source": "gateway"}})
    half = evaluator({"name": "hello", "sampling_rate": 0.5,
                      "assertion": {"type": "contains", "value": "hello"}})
    paused = evaluator({"name": "paused", "assertion": {"type": "contains", "value": "x"}})
    assert reg.patch(f"/evaluators/{paused}", json={"status": "paused"}).status_code == 200
    rates = {polite: 1.0, half: 0.5}

    key = gw.post("/gateway/keys", json={"name": "app"})
    assert key.status_code == 201, key.text
    auth = {"Authorization": f"Bearer {key.json()['key']}"}

    sent = []

    def send(n: int) -> None:
        for _ in range(n):
            sent.append(len(sent))  # a new question each time: no two judge prompts alike
            r = gw.post("/v1/chat/completions", headers=auth, json={
                "model": "openai/primary",
                "messages": [{"role": "user", "content": f"help me {sent[-1]}"}]})
            assert r.status_code == 200, r.text

    def expected() -> set[tuple[str, str]]:
        return {(t, e) for t in gateway_trace_ids(db_url) for e, rate in rates.items()
                if sampled(e, t, rate)}

    def judge_calls() -> int:
        return stub.models_called().count("judge")

    def all_scored(traces: int):
        ids = gateway_trace_ids(db_url)
        scored = events_of(db_url, "TraceScored")
        return len(ids) == traces and set(scored) == expected() and scored

    with stack_stub(stack) as stub:
        # a distinct answer each: the judge's prompts differ (identical ones are cached)
        stub.reply("primary", lambda body: f"hello, about {body['messages'][-1]['content']}")
        stub.reply("judge", VERDICT)
        send(6)
        scored = wait_until(lambda: all_scored(6), "6 traces scored")
        assert len(scored) == len(set(scored))  # once each
        assert judge_calls() == 6  # polite samples every trace; "hello" calls no judge
        assert paused not in {e for _, e in events_of(db_url, "TraceSampled")}
        # the score shows on the trace, by the evaluator
        some = gateway_trace_ids(db_url)[0]
        shown = reg.get(f"/traces/{some}").json()["scores"]
        assert ("polite", "evaluator", 0.75, f"evaluator:{polite}") in {
            (s["name"], s["source"], s["value"], s["actor"]) for s in shown}

        # the scorer dies while traffic flows (judges answer slowly, so some are in
        # flight) and starts again: what it had not acked is delivered again
        stub.latency_s = 0.3
        send(4)
        wait_until(lambda: judge_calls() > 6, "a judge call of the new traffic")
        stack["scorer"].kill()
        stub.latency_s = 0.0
        stack["scorer"] = start_worker("scorer", stack["env"], stack["registry"],
                                       log_dir=stack["logs"])
        scored = wait_until(lambda: all_scored(10), "10 traces scored after the restart")
        assert len(scored) == len(set(scored))
        # a judge call cut off by the kill is made again, none other
        assert 10 <= judge_calls() <= 10 + 4

        # Pub/Sub delivers a TraceSampled again: the scorer sees the score and calls no judge
        calls = judge_calls()
        page = reg.get("/events", params={"after": 0, "limit": 500}).json()["items"]
        again = next(e for e in page if e["type"] == "TraceSampled"
                     and e["data"]["evaluator_id"] == polite)
        seen = log_count(stack["scorer"], "online_trace_already_scored")
        redeliver(stack, again)
        wait_log(stack["scorer"], "online_trace_already_scored", more_than=seen,
                 what="the scorer did not handle the redelivered TraceSampled")
        assert judge_calls() == calls
        assert sorted(events_of(db_url, "TraceScored")) == sorted(scored)

        # the sampler reads every trace again from the start (a lost checkpoint): nothing
        # new is sampled, nothing scored again
        sampled_before = sorted(events_of(db_url, "TraceSampled"))
        query(db_url, "DELETE FROM trace_feed_checkpoints WHERE name = 'online-sampler'")
        wait_until(lambda: query(db_url, "SELECT 1 FROM trace_feed_checkpoints "
                                         "WHERE name = 'online-sampler'"),
                   "the sampler read the feed again")
        assert sorted(events_of(db_url, "TraceSampled")) == sampled_before
        assert sorted(events_of(db_url, "TraceScored")) == sorted(scored)
        assert judge_calls() == calls
