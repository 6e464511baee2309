import asyncio
import csv
import io

import pytest

from harness.events import StoredEvent
from tests.support.runs import seed, wait_run
from tests.support.stub_llm import StubLLM

CASES = [
    {"input": {"city": "Paris"}, "assert": [{"type": "icontains", "value": "paris"}]},
    {"input": {"city": "Rome"}, "assert": [{"type": "contains", "value": "Capital"}]},
    {"input": {"city": "Oslo"}, "assert": [{"type": "regex", "value": "^Tell"}]},
]


@pytest.fixture(autouse=True)
def _fake_key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")


async def test_run_end_to_end_with_echo_matrix_compare_pivot_trend_export(stack_client):
    c = stack_client
    p, ds = await seed(c, cases=CASES, versions=["Tell me about {{ city }}.",
                                                 "Capital facts: {{ city }}"])
    r = await c.post("/runs", json={"dataset_id": ds["id"], "targets": [
        {"prompt_id": p["id"], "version": 1}, {"prompt_id": p["id"], "version": 2}],
        "models": ["echo"], "assert": [{"type": "not-contains", "value": "{{ city }}!"}]})
    assert r.status_code == 202, r.text
    run = r.json()
    assert run["status"] == "queued" and run["expected_results"] == 6
    assert run["snapshot_uri"].startswith("file://") and len(run["snapshot_sha256"]) == 64
    done = await wait_run(c, run["id"])
    assert done["status"] == "completed" and done["recorded"] == 6 and done["progress"] == 1.0
    summary = done["summary"]
    by_target = {t["target_id"]: t for t in summary["targets"]}
    # v1 "Tell me about X." passes Paris (icontains) and Oslo (regex ^Tell), fails Rome
    assert (by_target["t0"]["passed"], by_target["t0"]["failed"]) == (2, 1)
    # v2 "Capital facts: X" passes Paris and Rome, fails Oslo
    assert (by_target["t1"]["passed"], by_target["t1"]["failed"]) == (2, 1)
    assert summary["verdict"] == "fail"

    fails = (await c.get(f"/runs/{run['id']}/results", params={"status": "fail"})).json()
    assert fails["total"] == 2
    one = fails["items"][0]
    assert one["output"] and one["rendered_prompt"] and one["assertions"][0]["reason"]
    t1 = (await c.get(f"/runs/{run['id']}/results", params={"target_id": "t1"})).json()
    assert t1["total"] == 3

    pivot = (await c.get(f"/runs/{run['id']}/pivot")).json()
    assert pivot["models"] == ["echo"] and len(pivot["prompts"]) == 2
    assert all(cell["pass_rate"] == pytest.approx(2 / 3) for cell in pivot["cells"])

    # a second run of v2 alone, compared with the first run's v1 target
    run2 = (await c.post("/runs", json={"dataset_id": ds["id"], "targets": [
        {"prompt_id": p["id"], "version": 2, "model": "echo"}]})).json()
    await wait_run(c, run2["id"])
    cmp_ = (await c.get("/runs/compare", params={"ids": f"{run['id']},{run2['id']}",
                                                  "pair": "t0:t0"})).json()
    kinds = {ch["case_id"]: ch["change"] for ch in cmp_["changes"]}
    cases = (await c.get(f"/datasets/{ds['id']}/cases")).json()["items"]
    ids = {cs["input"]["city"]: cs["id"] for cs in cases}
    assert kinds[ids["Rome"]] == "fixed" and kinds[ids["Oslo"]] == "regressed"
    assert kinds[ids["Paris"]] == "changed_output"
    assert cmp_["targets"][0]["pass_fail"]["test"] == "mcnemar-exact"

    trend = (await c.get(f"/prompts/{p['id']}/trend")).json()
    assert [(t["prompt_version"], round(t["pass_rate"], 3)) for t in trend] == [
        (1, 0.667), (2, 0.667), (2, 0.667)]

    exported = (await c.get(f"/runs/{run['id']}/export", params={"format": "csv"})).text
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert len(rows) == 6 and {r["status"] for r in rows} == {"pass", "fail"}
    as_json = (await c.get(f"/runs/{run['id']}/export")).json()
    assert len(as_json["results"]) == 6 and as_json["run"]["id"] == run["id"]


async def test_run_against_stub_retries_errors_cost_and_repeats(stack, stack_client):
    c = stack_client
    with StubLLM() as stub:
        stack.runner.llm.deployments["*"] = {"api_base": stub.base_url}
        stub.reply("flaky", lambda body: "yes" if len(stub.chat_requests) % 2 else "no")
        p, ds = await seed(c, cases=[{"input": {"q": "a"}}, {"input": {"q": "b"}}],
                           versions=["Answer: {{ q }}"],
                           default_assert=[{"type": "contains", "value": "yes"}])
        params = {"temperature": 0.7}
        stub.fail_next(status=429, times=2)
        r = await c.post("/runs", json={"dataset_id": ds["id"], "repeat": 3, "concurrency": 1,
                                        "targets": [{"prompt_id": p["id"], "model":
                                                     "openai/flaky", "params": params}]})
        assert r.status_code == 202, r.text
        done = await wait_run(c, r.json()["id"])
        assert done["recorded"] == 6 and done["errors"] == 0  # 429s were retried
        t0 = done["summary"]["targets"][0]
        assert t0["passed"] == 3 and t0["failed"] == 3
        assert sorted(t0["flaky_cases"]) == sorted({x for x in t0["flaky_cases"]})
        assert len(t0["flaky_cases"]) == 2  # each case both passed and failed across repeats
        assert t0["cost_usd"] is None and t0["cost_unknown"] == 6  # "flaky" has no price

        stub.fail_next(status=500, times=100)
        r = await c.post("/runs", json={"dataset_id": ds["id"], "targets": [
            {"prompt_id": p["id"], "model": "openai/flaky", "params": params}]})
        done = await wait_run(c, r.json()["id"])
        assert done["errors"] == 2 and done["failed"] == 0  # an error, not a fail
        res = (await c.get(f"/runs/{done['id']}/results")).json()["items"]
        assert all(x["status"] == "error" and "server" in x["error"] for x in res)


async def test_run_request_validation(stack_client):
    c = stack_client
    p, ds = await seed(c, cases=[{"input": {"q": "a"}}], versions=["{{ q }}"])
    empty = (await c.post("/datasets", json={"name": "empty"})).json()
    bad = [
        ({"dataset_id": empty["id"], "targets": [{"prompt_id": p["id"], "model": "echo"}]},
         "dataset_id"),
        ({"dataset_id": ds["id"], "targets": [{"prompt_id": p["id"]}]}, "targets.0.model"),
        ({"dataset_id": ds["id"], "targets": [{"prompt_id": p["id"], "version": 9,
                                               "model": "echo"}]}, "targets.0.version"),
        ({"dataset_id": ds["id"], "targets": [{"prompt_id": "nope", "model": "echo"}]},
         "targets.0.prompt_id"),
        ({"dataset_id": ds["id"], "targets": [{"prompt_id": p["id"], "model": "echo",
                                               "params": {"api_key": "sk-x"}}]},
         "targets.0.params.api_key"),
        ({"dataset_id": ds["id"], "assert": [{"type": 3}],
          "targets": [{"prompt_id": p["id"], "model": "echo"}]}, "assert"),
    ]
    for body, field in bad:
        r = await c.post("/runs", json=body)
        assert r.status_code == 422, (body, r.text)
        assert r.json()["field"] == field
    assert (await c.post("/runs", json={"dataset_id": "nope", "targets": [
        {"prompt_id": p["id"], "model": "echo"}]})).status_code == 404
    gold = (await c.post("/datasets", json={"name": "gold", "dataset_type": "golden"})).json()
    await c.post(f"/datasets/{gold['id']}/cases", json={"cases": [{"input": {"q": "x"}}]})
    body = {"dataset_id": gold["id"], "min_pass_rate": 0.9,
            "targets": [{"prompt_id": p["id"], "model": "echo"}]}
    r = await c.post("/runs", json=body)
    assert r.status_code == 422 and "verified" in r.json()["detail"]
    await c.post(f"/datasets/{gold['id']}/verify", json={})
    assert (await c.post("/runs", json=body)).status_code == 202


async def test_application_target_uses_its_model_and_params(stack_client):
    c = stack_client
    p, ds = await seed(c, cases=[{"input": {"q": "a"}}], versions=["Q {{ q }}", "R {{ q }}"])
    app = (await c.post("/applications", json={"name": "bot", "model_id": "echo",
                                                "prompt_id": p["id"], "temperature": 0})).json()
    await c.put(f"/prompts/{p['id']}/versions/2/activate", json={})
    run = (await c.post("/runs", json={"dataset_id": ds["id"], "targets": [
        {"application_id": app["id"]}]})).json()
    t = run["targets"][0]
    assert (t["model"], t["prompt_version"], t["params"]["temperature"]) == ("echo", 2, 0)
    done = await wait_run(c, run["id"])
    res = (await c.get(f"/runs/{done['id']}/results")).json()["items"]
    assert res[0]["output"] == "R a"


async def test_cancel_stops_the_run(stack, stack_client):
    c = stack_client
    with StubLLM(latency_s=0.2) as stub:
        stack.runner.llm.deployments["*"] = {"api_base": stub.base_url}
        p, ds = await seed(c, cases=[{"input": {"q": str(i)}} for i in range(40)],
                           versions=["{{ q }}"])
        run = (await c.post("/runs", json={"dataset_id": ds["id"], "concurrency": 2,
                                           "targets": [{"prompt_id": p["id"], "model":
                                                        "openai/slow"}]})).json()
        await wait_run(c, run["id"], statuses=("running",))
        r = await c.post(f"/runs/{run['id']}/cancel", json={"reason": "wrong prompt"})
        assert r.json()["status"] == "cancelled" and r.json()["reason"] == "wrong prompt"
        await asyncio.sleep(0.6)
        calls = len(stub.chat_requests)
        await asyncio.sleep(0.6)
        assert len(stub.chat_requests) == calls  # the runner stopped calling the model
        final = (await c.get(f"/runs/{run['id']}")).json()
        assert final["status"] == "cancelled" and final["recorded"] < 40
        assert (await c.post(f"/runs/{run['id']}/cancel")).status_code == 409


async def test_every_bus_message_delivered_twice_changes_nothing(stack_client, stack):
    """Wrap the runner's subscription so each message arrives twice (and results are
    ingested twice): the run ends with each result recorded exactly once."""
    c = stack_client
    bus = stack.runtime.bus
    sub = next(s for s in bus._subscribers if s.name == "runner")
    original = sub.handler

    async def twice(event: StoredEvent) -> None:
        await original(event)
        await original(event)

    sub.handler = twice
    sink = stack.sink
    publish = sink.publish

    async def publish_twice(stream_id, event, event_id):
        await publish(stream_id, event, event_id)
        await publish(stream_id, event, event_id)

    sink.publish = publish_twice
    p, ds = await seed(c, cases=[{"input": {"q": str(i)}} for i in range(10)],
                       versions=["{{ q }}"])
    run = (await c.post("/runs", json={"dataset_id": ds["id"], "targets": [
        {"prompt_id": p["id"], "model": "echo"}], "repeat": 2})).json()
    done = await wait_run(c, run["id"])
    assert done["recorded"] == 20 and done["passed"] == 20
    types = [e.type for e in await stack.runtime.store.read_stream(f"run-{run['id']}")]
    assert types.count("CaseResultRecorded") == 20
    assert types.count("RunCompleted") == 1 and types.count("RunStarted") == 1
    await asyncio.sleep(0.3)  # a late duplicate run task must not have added anything
    assert len(await stack.runtime.store.read_stream(f"run-{run['id']}")) == len(types)


async def test_model_graded_assertions_in_a_run(stack_client, monkeypatch):
    """llm-rubric through a judge model (LiteLLM → stub) and `similar` with the offline
    local embedding model, inside a real run."""
    c = stack_client
    with StubLLM() as stub:
        monkeypatch.setenv("OPENAI_BASE_URL", stub.base_url)
        monkeypatch.setenv("OPENAI_API_BASE", stub.base_url)
        verdicts = iter(['{"reason": "polite and on topic", "pass": true, "score": 0.9}',
                         'Sure! ```json\n{"reason": "rude", "pass": false, "score": 0.1}\n```'])
        stub.reply("judge", lambda body: next(verdicts))
        p, ds = await seed(c, cases=[
            {"input": {"q": "The cat sat on the mat."},
             "assert": [{"type": "llm-rubric", "value": "is polite"},
                        {"type": "similar", "value": "A cat was sitting on a mat.",
                         "threshold": 0.7}]},
            {"input": {"q": "Stock prices fell sharply today."},
             "assert": [{"type": "llm-rubric", "value": "is polite"},
                        {"type": "not-similar", "value": "A cat was sitting on a mat.",
                         "threshold": 0.7}]},
        ], versions=["{{ q }}"])
        run = (await c.post("/runs", json={"dataset_id": ds["id"], "concurrency": 1,
                                           "judge_model": "openai/judge",
                                           "targets": [{"prompt_id": p["id"],
                                                        "model": "echo"}]})).json()
        done = await wait_run(c, run["id"], timeout=120)
        res = {r["output"]: r for r in (await c.get(f"/runs/{done['id']}/results")).json()
               ["items"]}
        cat = res["The cat sat on the mat."]
        assert cat["status"] == "pass", cat
        assert cat["assertions"][0]["reason"] == "polite and on topic"
        assert cat["assertions"][1]["score"] > 0.7
        stock = res["Stock prices fell sharply today."]
        assert stock["status"] == "fail" and stock["assertions"][0]["reason"] == "rude"
        assert stock["assertions"][1]["passed"]  # not-similar holds for unrelated text
        judge_calls = [r for r in stub.chat_requests if r.model == "judge"]
        assert len(judge_calls) == 2 and "is polite" in str(judge_calls[0].messages)
