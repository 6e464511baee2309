"""The scorer in the local stack: runs that ask for metrics get ``ScoresRecorded`` per
result and metric, ingested by the registry and summarized in runs, results, pivots,
comparisons and trends. Real PostgreSQL, LiteLLM calling the loopback stub as the judge
(the rule-based Ragas judge of ``tests/support/ragas_judge.py``), the offline embedder.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from harness.events import StoredEvent
from harness.llm import LLMClient
from services.bootstrap import LocalStack
from services.registry.app import create_app
from tests.support.ragas_judge import PARIS, judge_reply
from tests.support.runs import seed, wait_run
from tests.support.stub_llm import StubLLM

FAITHFUL = "Paris is the capital of France. It has 2.1 million inhabitants."
UNFAITHFUL = "Paris is the capital of Germany. It has 9 million inhabitants."
CASES = [
    {"input": {"question": "Tell me about Paris.", "answer": FAITHFUL, "contexts": [PARIS]},
     "expected_output": "Paris is the capital of France."},
    {"input": {"question": "Tell me about Paris.", "answer": UNFAITHFUL, "contexts": [PARIS]},
     "expected_output": "Paris is the capital of France."},
    {"input": {"question": "Say hello.", "answer": "Hello there."}},  # no contexts, reference
]


@pytest.fixture(autouse=True)
def _openai_key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")


@pytest.fixture(scope="module")
def judge():
    with StubLLM() as stub:
        yield stub


@pytest.fixture
def stub(judge):
    judge.reset()
    judge.reply("judge", judge_reply)
    judge.usage("judge", 100, 20)
    return judge


def _llm(judge: StubLLM) -> LLMClient:
    # no response cache: every judge call the scorer makes reaches the stub and is counted;
    # the judge's endpoint is server configuration (runs carry only LLM options)
    return LLMClient(cache=False, backoff_base_s=0.01, backoff_max_s=0.05,
                     prices={"openai/judge": {"input_cost_per_token": 1e-6,
                                              "output_cost_per_token": 2e-6}},
                     deployments={"*": {"api_base": judge.base_url}})


async def _start(db_url, artifacts, judge: StubLLM) -> LocalStack:
    return await LocalStack.start(db_url, artifacts=artifacts, pool_max=20, llm=_llm(judge))


def _client(stack: LocalStack) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(runtime=stack.runtime)),
                             base_url="http://registry")


@pytest.fixture
async def scoring_stack(db_url, artifacts, judge):
    stack = await _start(db_url, artifacts, judge)
    yield stack
    await stack.stop()


@pytest.fixture
async def c(scoring_stack):
    async with _client(scoring_stack) as client:
        yield client


async def wait_scored(client, run_id: str, timeout: float = 120) -> dict:
    """The run once it is completed and every score is in."""
    await wait_run(client, run_id, timeout=timeout)
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        run = (await client.get(f"/runs/{run_id}")).json()
        if run["phase"] != "scoring":
            return run
        assert asyncio.get_running_loop().time() < deadline, run["scoring"]
        await asyncio.sleep(0.05)


def judged_answers(stub: StubLLM) -> list[str]:
    """The answer of each faithfulness statement-splitting call the judge received."""
    out = []
    for req in stub.chat_requests:
        prompt = req.body["messages"][-1]["content"]
        for answer in (FAITHFUL, UNFAITHFUL, "Hello there."):
            if f'"answer": "{answer}"' in prompt.rsplit("input: ", 1)[-1]:
                out.append(answer)
    return out


async def _request(c, stub, ds_id, prompt_id, metrics, **extra) -> dict:
    r = await c.post("/runs", json={
        "dataset_id": ds_id, "targets": [{"prompt_id": prompt_id, "model": "echo"}],
        "metrics": metrics, "judge_model": "openai/judge",
        **extra})
    assert r.status_code == 202, r.text
    return r.json()


async def test_run_with_metrics_is_scored_ingested_and_summarized(c, scoring_stack, stub):
    p, ds = await seed(c, cases=CASES, versions=["{{ answer }}"], name="rag")
    metrics = ["faithfulness", "context_precision", "answer_semantic_similarity", "bleu"]
    run = await _request(c, stub, ds["id"], p["id"], metrics)
    assert run["scoring"] == {"metrics": metrics, "scored": 0, "total": 12, "progress": 0.0,
                              "by_metric": None}
    done = await wait_scored(c, run["id"])
    assert done["status"] == "completed" and done["phase"] == "completed"
    scoring = done["scoring"]
    assert (scoring["scored"], scoring["total"], scoring["progress"]) == (12, 12, 1.0)

    faith = scoring["by_metric"]["faithfulness"]
    assert (faith["count"], faith["mean"], faith["min"], faith["max"], faith["p50"]) == (
        2, 0.5, 0.0, 1.0, 0.5)
    assert faith["n_not_applicable"] == 1 and faith["n_errors"] == 0
    for name in ("context_precision", "answer_semantic_similarity", "bleu"):
        assert scoring["by_metric"][name]["count"] == 2, name
        assert scoring["by_metric"][name]["n_not_applicable"] == 1, name

    items = (await c.get(f"/runs/{run['id']}/results")).json()["items"]
    by_answer = {i["output"]: i["scores"] for i in items}
    good, bad, hello = by_answer[FAITHFUL], by_answer[UNFAITHFUL], by_answer["Hello there."]
    assert (good["faithfulness"]["status"], good["faithfulness"]["value"]) == ("ok", 1.0)
    assert (bad["faithfulness"]["status"], bad["faithfulness"]["value"]) == ("ok", 0.0)
    assert bad["faithfulness"]["reason"] == "0 of 2 statements are supported by the contexts"
    # judge usage is recorded with each score: two calls, 100 + 20 tokens each, priced
    assert good["faithfulness"]["judge_model"] == "openai/judge"
    assert good["faithfulness"]["judge_calls"] == 2
    assert (good["faithfulness"]["prompt_tokens"], good["faithfulness"]["completion_tokens"]) \
        == (200, 40)
    assert good["faithfulness"]["cost_usd"] == pytest.approx(2 * (100e-6 + 20 * 2e-6))
    assert good["context_precision"]["value"] == 1.0
    assert good["answer_semantic_similarity"]["value"] > bad["answer_semantic_similarity"][
        "value"] > 0.5
    assert good["bleu"]["judge_model"] is None and good["bleu"]["judge_calls"] == 0
    # a case without contexts or reference: not applicable with the reason, never a 0
    for name in metrics:
        assert hello[name]["status"] == "not_applicable" and hello[name]["value"] is None
    assert hello["faithfulness"]["reason"] == (
        "faithfulness needs contexts (retrieved passages); the case has none")
    assert "reference (expected answer)" in hello["bleu"]["reason"]

    summary = (await c.get(f"/runs/{run['id']}/summary")).json()
    target = summary["targets"][0]["metrics"]
    assert target["faithfulness"]["mean"] == 0.5 and summary["total"]["metrics"] == target
    assert list(target) == sorted(metrics)

    events = await scoring_stack.runtime.store.read_stream(f"run-{run['id']}")
    scores = [e for e in events if e.type == "ScoresRecorded"]
    assert len(scores) == 12 and len({e.event_id for e in scores}) == 12
    assert {e.metadata.actor for e in scores} == {"scorer"}
    # each result was judged once: faithfulness splits the two answers with contexts
    assert sorted(judged_answers(stub)) == sorted([FAITHFUL, UNFAITHFUL])


async def test_redelivered_run_completed_recomputes_nothing(c, scoring_stack, stub):
    p, ds = await seed(c, cases=CASES[:2], versions=["{{ answer }}"], name="redeliver")
    run = await _request(c, stub, ds["id"], p["id"], ["faithfulness"])
    await wait_run(c, run["id"])
    completed = next(e for e in await scoring_stack.runtime.store.read_stream(
        f"run-{run['id']}") if e.type == "RunCompleted")
    # the relay delivered it once; deliver it twice more while the first is scoring
    await scoring_stack.scorer.handle(completed)
    await scoring_stack.scorer.handle(completed)
    done = await wait_scored(c, run["id"])
    assert done["scoring"]["scored"] == 2
    calls = len(stub.chat_requests)
    assert calls == 4  # two judge calls per result, each result judged once
    # and once more after everything is recorded: nothing is computed again
    assert await scoring_stack.scorer.score_run(run["id"]) == 0
    await scoring_stack.scorer.handle(completed)
    await asyncio.gather(*scoring_stack.scorer.tasks.values())
    assert len(stub.chat_requests) == calls
    events = await scoring_stack.runtime.store.read_stream(f"run-{run['id']}")
    assert sum(e.type == "ScoresRecorded" for e in events) == 2


class CrashAfter:
    """A result sink that stops the process (raises) after ``n`` published events."""

    def __init__(self, inner, n: int) -> None:
        self.inner, self.left = inner, n

    async def publish(self, stream_id, event, event_id) -> None:
        if self.left == 0:
            raise RuntimeError("scorer crashed")
        self.left -= 1
        await self.inner.publish(stream_id, event, event_id)

    async def flush(self) -> None:
        await self.inner.flush()


async def test_scorer_restarted_mid_run_scores_only_what_is_missing(db_url, artifacts, stub):
    stack = await _start(db_url, artifacts, stub)
    stack.scorer.batch_size = 1  # each result's scores are flushed before the next starts
    stack.scorer.sink = CrashAfter(stack.scorer_sink, 1)
    async with _client(stack) as c:
        p, ds = await seed(c, cases=CASES[:2], versions=["{{ answer }}"], name="restart")
        run = await _request(c, stub, ds["id"], p["id"], ["faithfulness"], concurrency=1)
        await wait_run(c, run["id"])
        while stack.scorer.tasks:
            await asyncio.gather(*stack.scorer.tasks.values(), return_exceptions=True)
        first = (await c.get(f"/runs/{run['id']}")).json()
        assert first["phase"] == "scoring" and first["scoring"]["scored"] == 1
        recorded = next(i["output"] for i in (await c.get(f"/runs/{run['id']}/results")).json()
                        ["items"] if i["scores"])
    await stack.stop()
    before = judged_answers(stub)

    stack = await _start(db_url, artifacts, stub)  # resumes the unfinished scoring
    try:
        async with _client(stack) as c:
            done = await wait_scored(c, run["id"])
    finally:
        await stack.stop()
    assert done["scoring"]["scored"] == 2
    again = judged_answers(stub)[len(before):]
    assert again and recorded not in again  # the recorded score was not computed again


async def test_metric_names_are_checked_and_the_dataset_default_applies(c, stub):
    p, ds = await seed(c, cases=CASES[:1], versions=["{{ answer }}"], name="names")
    target = [{"prompt_id": p["id"], "model": "echo"}]
    r = await c.post("/runs", json={"dataset_id": ds["id"], "targets": target,
                                    "metrics": ["faithfulness", "fluency"]})
    assert r.status_code == 422
    problem = r.json()
    assert problem["field"] == "metrics.1" and problem["metric"] == "fluency"
    assert "unknown metric 'fluency'" in problem["detail"]
    r = await c.post("/runs", json={"dataset_id": ds["id"], "targets": target,
                                    "metrics": ["bleu"], "judge_params": {"api_key": "sk-x"}})
    assert r.status_code == 422 and r.json()["field"] == "judge_params.api_key"
    assert (await c.get("/runs")).json()["total"] == 0  # nothing half-written

    bad = await c.post("/datasets", json={"name": "d2", "default_metrics": ["nope"]})
    assert bad.status_code == 422 and bad.json()["field"] == "default_metrics.0"
    r = await c.patch(f"/datasets/{ds['id']}", json={"default_metrics": ["bleu_score",
                                                                        "ROUGE", "bleu"]})
    assert r.status_code == 200 and r.json()["default_metrics"] == ["bleu", "rouge"]

    defaulted = (await c.post("/runs", json={"dataset_id": ds["id"], "targets": target}))
    assert defaulted.json()["config"]["metrics"] == ["bleu", "rouge"]
    done = await wait_scored(c, defaulted.json()["id"])
    assert set(done["scoring"]["by_metric"]) == {"bleu", "rouge"}
    none = (await c.post("/runs", json={"dataset_id": ds["id"], "targets": target,
                                        "metrics": []})).json()
    done = await wait_run(c, none["id"])
    assert done["scoring"] is None and done["phase"] == "completed"


async def test_compare_pivot_and_trend_include_metric_distributions(c, stub):
    cases = [{"input": {"answer": a}, "expected_output": "Paris is the capital of France."}
             for a in ("Paris is the capital of France.", "Paris is in France.")]
    p, ds = await seed(c, cases=cases, versions=["{{ answer }}", "The {{ answer }}"],
                       name="cmp")
    runs = []
    for version in (1, 2):
        r = await c.post("/runs", json={
            "dataset_id": ds["id"], "metrics": ["exact_match", "string_presence"],
            "targets": [{"prompt_id": p["id"], "version": version, "model": "echo"}]})
        runs.append(await wait_scored(c, r.json()["id"]))
    v1, v2 = runs

    cmp_ = (await c.get("/runs/compare", params={"ids": f"{v1['id']},{v2['id']}"})).json()
    target = cmp_["targets"][0]
    assert target["before"]["metrics"]["exact_match"]["mean"] == 0.5
    assert target["after"]["metrics"]["exact_match"]["mean"] == 0.0
    assert target["metric_mean_deltas"] == {"exact_match": -0.5, "string_presence": 0.0}
    em = target["metric_significance"]["exact_match"]
    assert (em["test"], em["n"], em["statistic"]) == ("bootstrap-paired-mean", 2, -0.5)

    cell = (await c.get(f"/runs/{v1['id']}/pivot")).json()["cells"][0]
    assert cell["metrics"]["string_presence"] == {
        "count": 2, "mean": 0.5, "p50": 0.5, "min": 0.0, "max": 1.0, "n_not_applicable": 0,
        "n_errors": 0}

    trend = (await c.get(f"/prompts/{p['id']}/trend")).json()
    assert [(t["prompt_version"], t["metrics"]["exact_match"]["mean"]) for t in trend] == [
        (1, 0.5), (2, 0.0)]


async def test_scores_rebuild_into_identical_rows(c, scoring_stack, stub):
    from services.registry.read.projections import rebuild

    p, ds = await seed(c, cases=CASES, versions=["{{ answer }}"], name="rebuild")
    run = await _request(c, stub, ds["id"], p["id"], ["bleu", "faithfulness"])
    await wait_scored(c, run["id"])
    pool = scoring_stack.runtime.pool
    query = ("SELECT run_id, case_id, target_id, repeat, metric, status, value, score "
             "FROM run_scores ORDER BY 1, 2, 3, 4, 5")
    before = [dict(r) for r in await pool.fetch(query)]
    counts = await pool.fetchrow("SELECT scores_expected, scores_recorded FROM runs")
    await rebuild(scoring_stack.runtime.store)
    assert [dict(r) for r in await pool.fetch(query)] == before and len(before) == 6
    assert await pool.fetchrow("SELECT scores_expected, scores_recorded FROM runs") == counts


async def test_ingested_score_events_from_a_worker_are_idempotent(c, scoring_stack):
    """The registry's ingestion path (as from Pub/Sub) appends a proposed score once."""
    from harness.events import EventMetadata
    from harness.events.run_events import ScoresRecorded, score_event_id
    from services.registry.service import make_ingest

    p, ds = await seed(c, cases=CASES[:1], versions=["{{ answer }}"], name="ingest")
    run = (await c.post("/runs", json={"dataset_id": ds["id"], "metrics": ["bleu"],
                                       "targets": [{"prompt_id": p["id"], "model": "echo"}]}
                        )).json()
    done = await wait_scored(c, run["id"])
    item = (await c.get(f"/runs/{run['id']}/results")).json()["items"][0]
    ingest = make_ingest(lambda: scoring_stack.runtime)
    event = ScoresRecorded(run_id=run["id"], case_id=item["case_id"], target_id="t0",
                           metric="bleu", status="ok", value=0.123)
    eid = score_event_id(run["id"], item["case_id"], "t0", 0, "bleu")
    stored = StoredEvent(event_id=eid, stream_id=f"run-{run['id']}", stream_version=0,
                         type=event.TYPE, schema_version=1, data=event.model_dump(mode="json"),
                         metadata=EventMetadata(actor="scorer"), recorded_at=done["finished_at"],
                         global_position=0)
    await ingest(stored)
    after = (await c.get(f"/runs/{run['id']}")).json()
    assert after["scoring"]["scored"] == 1  # the scorer's own event already had this id
    assert (await c.get(f"/runs/{run['id']}/results")).json()["items"][0]["scores"][
        "bleu"]["value"] == item["scores"]["bleu"]["value"]


async def test_harness_run_with_metrics_waits_for_the_scores(live_stack_url):
    from tests.integration.test_cli_run import harness

    async with httpx.AsyncClient(timeout=60, base_url=live_stack_url) as client:
        await seed(client, versions=["{{ answer }}"], name="cli", cases=[
            {"input": {"answer": a}, "expected_output": "Paris."} for a in ("Paris.", "Rome.")])
    code, out = await harness("run", "--prompt", "cli-prompt@1", "--model", "echo",
                              "--dataset", "cli-data", "--metric", "exact_match",
                              "--metric", "string_presence", url=live_stack_url)
    assert code == 0, out
    lines = [line for line in out.splitlines() if "exact_match" in line]
    assert lines and all("0.500" in line and "0.000–1.000" in line for line in lines), out


async def test_an_unreadable_snapshot_makes_error_scores_not_an_endless_scoring(
        c, scoring_stack, stub):
    from urllib.parse import urlsplit

    p, ds = await seed(c, cases=CASES[:2], versions=["{{ answer }}"], name="lost")
    with StubLLM(latency_s=0.3) as slow:  # the target answers slowly (echoing the prompt)
        scoring_stack.runner.llm.deployments["openai/slow"] = {"api_base": slow.base_url}
        run = await _request(c, stub, ds["id"], p["id"], ["faithfulness", "bleu"],
                             concurrency=1, targets=[{
                                 "prompt_id": p["id"], "model": "openai/slow"}])
        await wait_run(c, run["id"], statuses=("running", "completed"))
        # the runner has read the snapshot; it is gone before the scorer looks for it
        Path(urlsplit(run["snapshot_uri"]).path).unlink()
        done = await wait_scored(c, run["id"])
    assert done["recorded"] == 2 and done["scoring"]["scored"] == 4
    assert all(m["n_errors"] == 2 and m["count"] == 0
               for m in done["scoring"]["by_metric"].values())
    item = (await c.get(f"/runs/{run['id']}/results")).json()["items"][0]
    assert item["output"] in (FAITHFUL, UNFAITHFUL)
    assert item["scores"]["bleu"]["reason"].startswith(
        "the run's dataset snapshot cannot be read: ")
    assert stub.chat_requests == []  # nothing was sent to the judge
