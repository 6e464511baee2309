"""A run split into shards on the local stack: each shard is its own work item, the
registry completes the run once every item is recorded, a cancellation stops every shard
(also where the cancel event never arrives, as on Pub/Sub where one instance gets it), and
the run's concurrency holds across its shards in one instance."""

from __future__ import annotations

import asyncio
import json

import pytest

from harness.evaluation import analysis
from harness.evaluation.models import CaseResult, Target
from harness.events import StoredEvent
from tests.support.runs import seed, wait_run
from tests.support.stub_llm import StubLLM


@pytest.fixture(autouse=True)
def _small_shards(monkeypatch, setenv):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    setenv("HARNESS_RUN_SHARD_ITEMS", "5")


async def _types(stack, run_id: str) -> list[str]:
    return [e.type for e in await stack.runtime.store.read_stream(f"run-{run_id}")]


async def _cancel_once_flowing(c, stub, run_id: str, *, quiet_s: float) -> int:
    """Cancel the run once it has 4 results (calls are flowing: a first LiteLLM call, or a
    child loading LiteLLM, is slow), wait for the calls under way to end, and check that
    none starts within ``quiet_s``; the model calls made in all."""
    for _ in range(1200):
        if (await c.get(f"/runs/{run_id}")).json()["recorded"] >= 4:
            break
        await asyncio.sleep(0.05)
    r = await c.post(f"/runs/{run_id}/cancel", json={"reason": "stop"})
    assert r.json()["status"] == "cancelled"
    for _ in range(400):  # the calls under way when it was cancelled end
        await asyncio.sleep(0.05)
        if stub._in_flight == 0:
            break
    calls = len(stub.chat_requests)
    await asyncio.sleep(quiet_s)
    assert len(stub.chat_requests) == calls  # no shard calls the model any more
    return calls


async def test_a_run_over_several_shards_is_completed_once_by_the_registry(stack, stack_client):
    c = stack_client
    p, ds = await seed(c, cases=[{"input": {"q": str(i)}, "assert": [
        {"type": "contains", "value": str(i)}]} for i in range(12)], versions=["{{ q }}"])
    run = (await c.post("/runs", json={"dataset_id": ds["id"], "repeat": 2, "targets": [
        {"prompt_id": p["id"], "model": "echo"}]})).json()
    done = await wait_run(c, run["id"])
    assert done["status"] == "completed" and done["recorded"] == 24 and done["passed"] == 24
    types = await _types(stack, run["id"])
    # 24 items, at most 5 a shard: 5 shards, each item recorded once, completed once
    assert types.count("RunShardRequested") == 5
    assert types.count("CaseResultRecorded") == 24 and types.count("RunCompleted") == 1
    assert types.index("RunCompleted") > max(i for i, t in enumerate(types)
                                             if t == "CaseResultRecorded")
    # the summary is the registry's results summarized
    results = (await c.get(f"/runs/{run['id']}/results", params={"limit": 100})).json()["items"]
    expected = analysis.summarize([CaseResult.model_validate(r) for r in results],
                                  [Target.model_validate(t) for t in done["targets"]])
    assert done["summary"] == expected.model_dump(mode="json")


async def test_a_cancel_stops_every_shard_even_where_the_event_never_arrives(stack,
                                                                          stack_client):
    c = stack_client
    sub = next(s for s in stack.runtime.bus._subscribers if s.name == "runner")
    original = sub.handler

    async def no_cancel(event: StoredEvent) -> None:  # as an instance that did not get it
        if event.type != "RunCancelled":
            await original(event)

    sub.handler = no_cancel
    stack.runner.status_every_s = 0.05
    with StubLLM(latency_s=0.2) as stub:
        stack.runner.llm.deployments["*"] = {"api_base": stub.base_url}
        p, ds = await seed(c, cases=[{"input": {"q": str(i)}} for i in range(40)],
                           versions=["{{ q }}"])
        run = (await c.post("/runs", json={"dataset_id": ds["id"], "concurrency": 4,
                                           "targets": [{"prompt_id": p["id"], "model":
                                                        "openai/slow"}]})).json()
        # 3 latencies: a shard still going would have called
        calls = await _cancel_once_flowing(c, stub, run["id"], quiet_s=0.6)
        assert calls < 40
        assert stub.max_in_flight <= 4  # the run's concurrency, across its 8 shards
    final = (await c.get(f"/runs/{run['id']}")).json()
    assert final["status"] == "cancelled" and final["recorded"] < 40
    assert "RunCompleted" not in await _types(stack, run["id"])


async def test_shards_run_in_a_pool_of_processes_and_each_item_is_recorded_once(db_url,
                                                                                artifacts):
    """``harness up --workers 2``: each shard's items in a child process, the results
    recorded by the parent; the children's LLM calls are traced too."""
    import httpx

    from services.bootstrap import LocalStack
    from services.registry.app import create_app

    stack = await LocalStack.start(db_url, artifacts=artifacts, pool_max=20, workers=2)
    try:
        app = create_app(runtime=stack.runtime)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://registry") as c:
            p, ds = await seed(c, cases=[{"input": {"q": str(i)}, "assert": [
                {"type": "contains", "value": str(i)}]} for i in range(20)],
                versions=["{{ q }}"])
            run = (await c.post("/runs", json={"dataset_id": ds["id"], "targets": [
                {"prompt_id": p["id"], "model": "echo"}]})).json()
            done = await wait_run(c, run["id"], timeout=120)
        assert done["status"] == "completed" and done["recorded"] == 20
        assert done["passed"] == 20
        types = await _types(stack, run["id"])
        assert types.count("RunShardRequested") == 4
        assert types.count("CaseResultRecorded") == 20 and types.count("RunCompleted") == 1
        await stack.traces.flush()
        traced = await stack.runtime.pool.fetchval(
            "SELECT count(*) FROM gateway_traces WHERE run_id = $1", run["id"])
        assert traced == 20
    finally:
        await stack.stop()


async def test_a_cancel_stops_the_pools_processes_from_taking_items(db_url, artifacts,
                                                                    setenv):
    """``--workers 2``: a cancelled run's shards stop in the child processes too (they
    ask the parent whether to go on at most every quarter second, off their loop)."""
    import httpx

    from services.bootstrap import LocalStack
    from services.registry.app import create_app

    with StubLLM(latency_s=0.2) as stub:
        # the children make their own client from the environment
        setenv("HARNESS_LLM_DEPLOYMENTS", json.dumps({"*": {"api_base": stub.base_url}}))
        stack = await LocalStack.start(db_url, artifacts=artifacts, pool_max=20, workers=2)
        try:
            stack.runner.status_every_s = 0.05
            app = create_app(runtime=stack.runtime)
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                         base_url="http://registry") as c:
                p, ds = await seed(c, cases=[{"input": {"q": str(i)}} for i in range(60)],
                                   versions=["{{ q }}"])
                run = (await c.post("/runs", json={
                    "dataset_id": ds["id"], "concurrency": 4,
                    "targets": [{"prompt_id": p["id"], "model": "openai/slow"}]})).json()
                # 5 latencies, 4 stop checks: a child still going would have called
                calls = await _cancel_once_flowing(c, stub, run["id"], quiet_s=1.0)
                assert 4 <= calls < 60
                assert stub.max_in_flight <= 4  # the run's concurrency, over both processes
                final = (await c.get(f"/runs/{run['id']}")).json()
            assert final["status"] == "cancelled" and final["recorded"] < 60
            assert "RunCompleted" not in await _types(stack, run["id"])
        finally:
            await stack.stop()


async def test_a_run_in_several_shards_is_scored_shard_by_shard(stack, stack_client):
    """Its scoring is shared out like its model calls: ``RunCompleted`` comes with one
    ``RunScoringShardRequested`` per runner shard (so any scorer instance takes any), each
    scores only its shard's results, and the run itself is not scored a second time."""
    c = stack_client
    scored: list[int | None] = []  # the shard of every scoring task, None = the whole run
    read: list[int | None] = []  # the shard of every read of results
    original_score, original_results = stack.scorer.score_run, stack.scorer.source.results

    async def score_run(run_id, shard=None, expected=None):
        scored.append(shard)
        return await original_score(run_id, shard, expected)

    async def results(run_id, shard=None):
        read.append(shard)
        return await original_results(run_id, shard)

    stack.scorer.score_run, stack.scorer.source.results = score_run, results
    p, ds = await seed(c, cases=[{"input": {"q": str(i)}, "expected_output": str(i)}
                                 for i in range(12)], versions=["{{ q }}"])
    run = (await c.post("/runs", json={"dataset_id": ds["id"], "metrics": ["exact_match"],
                                       "targets": [{"prompt_id": p["id"],
                                                    "model": "echo"}]})).json()
    done = await wait_run(c, run["id"])
    assert done["status"] == "completed" and done["recorded"] == 12
    for _ in range(600):  # the scores arrive after the run completes
        got = (await c.get(f"/runs/{run['id']}")).json()
        if got.get("scoring") and got["scoring"]["scored"] >= 12:
            break
        await asyncio.sleep(0.05)
    events = await stack.runtime.store.read_stream(f"run-{run['id']}")
    completed = next(e for e in events if e.type == "RunCompleted")
    items = [e.data for e in events if e.type == "RunScoringShardRequested"]
    # 12 items, at most 5 a shard: 3 shards of 4, each scored on its own
    assert completed.data["scoring_shards"] == 3
    assert [(i["shard"], i["shards"], i["results"]) for i in items] == [(0, 3, 4), (1, 3, 4),
                                                                      (2, 3, 4)]
    assert sorted(scored) == [0, 1, 2] and sorted(set(read)) == [0, 1, 2]
    scores = [e.data for e in events if e.type == "ScoresRecorded"]
    assert len(scores) == 12  # every result scored once
    assert len({(s["case_id"], s["target_id"], s["repeat"]) for s in scores}) == 12
    assert all(s["status"] == "ok" and s["value"] == 1.0 for s in scores)


async def test_a_run_in_one_shard_is_scored_on_its_completion(stack, stack_client, setenv):
    setenv("HARNESS_RUN_SHARD_ITEMS", "500")
    c = stack_client
    p, ds = await seed(c, cases=[{"input": {"q": str(i)}, "expected_output": str(i)}
                                 for i in range(6)], versions=["{{ q }}"])
    run = (await c.post("/runs", json={"dataset_id": ds["id"], "metrics": ["exact_match"],
                                       "targets": [{"prompt_id": p["id"],
                                                    "model": "echo"}]})).json()
    await wait_run(c, run["id"])
    for _ in range(600):
        got = (await c.get(f"/runs/{run['id']}")).json()
        if got.get("scoring") and got["scoring"]["scored"] >= 6:
            break
        await asyncio.sleep(0.05)
    events = await stack.runtime.store.read_stream(f"run-{run['id']}")
    assert next(e for e in events if e.type == "RunCompleted").data["scoring_shards"] == 0
    assert not [e for e in events if e.type == "RunScoringShardRequested"]
    assert len([e for e in events if e.type == "ScoresRecorded"]) == 6
