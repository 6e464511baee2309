"""Human judgement over HTTP against real Postgres: score configs validated (the field
named), scores of a trace shown in ``GET /traces/{id}``, scores of run results beside the
scorer's metrics in results, summary, pivot and comparison; the actor is the key; viewers
read but cannot write."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from harness.events import EventMetadata, streams
from harness.events.run_events import ScoresRecorded, score_event_id
from harness.eventstore import EventStore
from harness.tracing import PostgresTraceStore
from harness.tracing.record import Trace
from services.registry.read import projections
from tests.support.keys import bearer_headers

CONFIGS = [
    {"name": "stars", "data_type": "numeric", "min_value": 1, "max_value": 5,
     "description": "how good, 1 to 5"},
    {"name": "correct", "data_type": "boolean"},
    {"name": "tone", "data_type": "categorical",
     "categories": [{"label": "rude", "value": 0}, {"label": "kind", "value": 1}]},
]


@pytest.fixture
async def keys(runtime):
    """Bearer headers of two editors and a viewer (keys exist: every call needs one)."""
    return await bearer_headers(runtime, rita="editor", sam="editor", vera="viewer")


@pytest.fixture
async def configs(client, keys):
    out = {}
    for body in CONFIGS:
        r = await client.post("/score-configs", json=body, headers=keys["rita"])
        assert r.status_code == 201, r.text
        out[body["name"]] = r.json()
    return out


@pytest.fixture
async def stored_trace(runtime) -> Trace:
    t = Trace(kind="chat", model_requested="openai/a", status=200, latency_ms=12.0,
              created_at=datetime.now(UTC),
              request={"messages": [{"role": "user", "content": "hi"}]},
              response={"content": "hello"})
    await PostgresTraceStore(runtime.pool).write([t])
    return t


async def test_score_configs_are_validated_naming_the_field(client, keys, configs):
    assert configs["tone"]["categories"] == CONFIGS[2]["categories"]
    assert configs["stars"]["created_by"] == "rita"
    listed = (await client.get("/score-configs", headers=keys["vera"])).json()
    assert [c["name"] for c in listed] == ["correct", "stars", "tone"]
    one = await client.get(f"/score-configs/{configs['stars']['id']}", headers=keys["vera"])
    assert one.json()["max_value"] == 5
    r = await client.post("/score-configs", json=CONFIGS[0], headers=keys["sam"])
    assert r.status_code == 409 and r.json()["field"] == "name", r.text
    for body, field in [
        ({"name": "x", "data_type": "numeric", "min_value": 3, "max_value": 1}, "max_value"),
        ({"name": "x", "data_type": "categorical"}, "categories"),
        ({"name": "x", "data_type": "boolean", "min_value": 0}, "min_value"),
        ({"name": "x y", "data_type": "numeric"}, "name"),
        ({"name": "x", "data_type": "stars"}, "data_type"),
        ({"name": "x", "data_type": "categorical",
          "categories": [{"label": "a", "value": "high"}]}, "categories.0.value"),
        ({"name": "x", "data_type": "categorical",
          "categories": [{"label": "a", "value": 1}, {"label": "a", "value": 2}]},
         "categories.1.label"),
    ]:
        r = await client.post("/score-configs", json=body, headers=keys["rita"])
        assert r.status_code == 422, (body, r.text)
        named = {r.json().get("field")} | {e["field"] for e in r.json().get("errors", [])}
        assert any(n and n.endswith(field) for n in named), (body, r.json())
    assert r.headers["content-type"].startswith("application/problem+json")
    assert (await client.get("/score-configs/nope", headers=keys["vera"])).status_code == 404


async def test_a_human_score_appears_in_the_trace(client, runtime, keys, configs, stored_trace):
    url = f"/traces/{stored_trace.id}/scores"
    r = await client.post(url, json={"name": "stars", "value": 4, "comment": "fine"},
                          headers=keys["rita"])
    assert r.status_code == 201, r.text
    assert r.json() | {"scored_at": None} == {
        "name": "stars", "data_type": "numeric", "value": 4.0, "label": None,
        "comment": "fine", "source": "human", "actor": "rita",
        "config_id": configs["stars"]["id"], "scored_at": None}
    # rita changes her mind (hers is replaced); sam scores too; other types
    await client.post(url, json={"name": "stars", "value": 5}, headers=keys["rita"])
    await client.post(url, json={"name": "stars", "value": 2}, headers=keys["sam"])
    r = await client.post(url, json={"name": "tone", "value": "kind"}, headers=keys["sam"])
    assert r.json()["value"] == 1.0 and r.json()["label"] == "kind"
    r = await client.post(url, json={"name": "correct", "value": True}, headers=keys["sam"])
    assert r.json()["value"] == 1.0 and r.json()["label"] == "true"
    t = (await client.get(f"/traces/{stored_trace.id}", headers=keys["vera"])).json()
    got = sorted((s["name"], s["actor"], s["value"]) for s in t["scores"])
    assert got == [("correct", "sam", 1.0), ("stars", "rita", 5.0), ("stars", "sam", 2.0),
                   ("tone", "sam", 1.0)]
    # the scores are events on the trace's stream, by their actors
    events = await runtime.store.read_stream(streams.trace(str(stored_trace.id)))
    assert [(e.type, e.metadata.actor, e.data["value"]) for e in events][:2] == [
        ("TraceScored", "rita", 4.0), ("TraceScored", "rita", 5.0)]

    for body, status, field in [
        ({"name": "stars", "value": 9}, 422, "value"),
        ({"name": "stars", "value": "4"}, 422, "value"),
        ({"name": "correct", "value": 1}, 422, "value"),
        ({"name": "tone", "value": "meh"}, 422, "value"),
        ({"name": "clarity", "value": 3}, 422, "name"),
        ({"name": "stars"}, 422, "value"),
    ]:
        r = await client.post(url, json=body, headers=keys["rita"])
        assert r.status_code == status, (body, r.text)
        named = {r.json().get("field")} | {e["field"] for e in r.json().get("errors", [])}
        assert any(n and n.endswith(field) for n in named), (body, r.json())
    r = await client.post(f"/traces/{uuid.uuid4()}/scores", json={"name": "stars", "value": 3},
                          headers=keys["rita"])
    assert r.status_code == 404


async def _two_runs(client, runtime, headers) -> tuple[dict, dict]:
    p = (await client.post("/prompts", json={"name": "qa", "content": "{{ q }}"},
                           headers=headers)).json()
    ds = (await client.post("/datasets", json={"name": "qa-set"}, headers=headers)).json()
    cases = (await client.post(f"/datasets/{ds['id']}/cases", headers=headers, json={
        "cases": [{"input": {"q": "one"}}, {"input": {"q": "two"}}]})).json()["items"]
    target = {"target_id": "t0", "label": "qa v1", "prompt_id": p["id"], "prompt_version": 1,
              "content": "{{ q }}", "model": "echo"}
    runs = []
    for _ in range(2):
        r = await client.post("/runs/import", headers=headers, json={
            "dataset_id": ds["id"], "targets": [target],
            "results": [{"run_id": "x", "case_id": c["id"], "target_id": "t0",
                         "status": "pass", "score": 1.0, "output": c["input"]["q"]}
                        for c in cases]})
        assert r.status_code == 201, r.text
        runs.append(r.json())
    # the scorer's metric on every result of both runs
    for run in runs:
        for c in cases:
            event = ScoresRecorded(run_id=run["id"], case_id=c["id"], target_id="t0",
                                   metric="faithfulness", status="ok", value=0.5)
            await runtime.commands.record_facts(
                streams.run(run["id"]), [event],
                [score_event_id(run["id"], c["id"], "t0", 0, "faithfulness")],
                EventMetadata(actor="scorer"))
    return runs[0], runs[1]


async def test_human_scores_appear_beside_automatic_ones_in_compare_and_pivot(
        client, runtime, keys, configs):
    before, after = await _two_runs(client, runtime, keys["rita"])
    results = {}
    for run in (before, after):
        items = (await client.get(f"/runs/{run['id']}/results", headers=keys["vera"])
                 ).json()["items"]
        assert all(uuid.UUID(i["result_id"]) for i in items)
        results[run["id"]] = items

    async def score(run, item, value, who="rita", name="stars"):
        r = await client.post(f"/runs/{run['id']}/results/{item['result_id']}/scores",
                              json={"name": name, "value": value}, headers=keys[who])
        assert r.status_code == 201, r.text
        return r.json()

    b, a = results[before["id"]], results[after["id"]]
    await score(before, b[0], 2)
    await score(before, b[1], 3)
    await score(after, a[0], 5)
    await score(after, a[0], 3, who="sam")  # two people: their mean, 4
    assert (await score(after, a[1], 5))["actor"] == "rita"
    await score(after, a[1], True, name="correct")

    items = (await client.get(f"/runs/{after['id']}/results", headers=keys["vera"])
             ).json()["items"]
    first = next(i for i in items if i["result_id"] == a[0]["result_id"])
    assert first["scores"]["human:stars"]["value"] == 4.0
    assert first["scores"]["human:stars"]["count"] == 2
    assert first["scores"]["faithfulness"]["value"] == 0.5  # the scorer's, beside it
    mine = await client.get(f"/runs/{after['id']}/results/{a[0]['result_id']}/scores",
                            headers=keys["vera"])
    assert sorted((s["actor"], s["value"]) for s in mine.json()) == [("rita", 5.0),
                                                                     ("sam", 3.0)]

    cmp_ = (await client.get("/runs/compare", params={"ids": f"{before['id']},{after['id']}"},
                             headers=keys["vera"])).json()
    [t] = cmp_["targets"]
    assert t["before"]["metrics"]["human:stars"]["mean"] == 2.5
    assert t["after"]["metrics"]["human:stars"]["mean"] == 4.5
    assert t["metric_mean_deltas"]["human:stars"] == 2.0
    assert "faithfulness" in t["metric_mean_deltas"]
    assert t["after"]["metrics"]["human:correct"]["mean"] == 1.0
    pivot = (await client.get(f"/runs/{after['id']}/pivot", headers=keys["vera"])).json()
    [cell] = pivot["cells"]
    assert cell["metrics"]["human:stars"]["mean"] == 4.5
    assert cell["metrics"]["faithfulness"]["mean"] == 0.5
    summary = (await client.get(f"/runs/{after['id']}/summary", headers=keys["vera"])).json()
    assert summary["total"]["metrics"]["human:stars"]["count"] == 2

    r = await client.post(f"/runs/{after['id']}/results/{uuid.uuid4()}/scores",
                          json={"name": "stars", "value": 3}, headers=keys["rita"])
    assert r.status_code == 404
    r = await client.post(f"/runs/{after['id']}/results/{a[0]['result_id']}/scores",
                          json={"name": "stars", "value": 0}, headers=keys["rita"])
    assert r.status_code == 422 and r.json()["field"] == "value"
    events = await runtime.store.read_stream(streams.run(after["id"]))
    scored = [e for e in events if e.type == "ResultScored"]
    assert len(scored) == 4 and {e.data["source"] for e in scored} == {"human"}

    # the read models are projections: a rebuild gives them back row for row
    async def dump():
        return [[dict(r) for r in await runtime.pool.fetch(q)] for q in (
            "SELECT * FROM score_configs ORDER BY id",
            "SELECT * FROM result_feedback ORDER BY run_id, case_id, name, actor",
            "SELECT run_id, case_id, result_id FROM run_results ORDER BY run_id, case_id")]
    before_rebuild = await dump()
    await projections.rebuild(EventStore(runtime.pool))
    assert await dump() == before_rebuild


async def test_viewers_read_but_cannot_write(client, keys, configs, stored_trace):
    viewer = keys["vera"]
    r = await client.post("/score-configs", json={"name": "v", "data_type": "boolean"},
                          headers=viewer)
    assert r.status_code == 403
    r = await client.post(f"/traces/{stored_trace.id}/scores",
                          json={"name": "stars", "value": 3}, headers=viewer)
    assert r.status_code == 403
    r = await client.post(f"/runs/any/results/{uuid.uuid4()}/scores",
                          json={"name": "stars", "value": 3}, headers=viewer)
    assert r.status_code == 403
    assert (await client.get("/score-configs", headers=viewer)).status_code == 200
    t = (await client.get(f"/traces/{stored_trace.id}", headers=viewer)).json()
    assert t["scores"] == []
    assert (await client.post("/score-configs", json={"name": "v", "data_type": "boolean"}
                              )).status_code == 401
