"""Annotation queues over HTTP against real Postgres: traces and run results added by id
or filter (duplicates skipped), one item at a time for the named reviewers, scored and
completed, progress per queue; viewers and other people cannot work the queue."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from harness.events import streams
from harness.tracing import PostgresTraceStore
from harness.tracing.record import Trace
from tests.support.keys import bearer_headers

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)


@pytest.fixture
async def keys(runtime):
    return await bearer_headers(runtime, rita="editor", sam="editor", olga="editor", vera="viewer")


@pytest.fixture
async def traces(runtime) -> list[Trace]:
    rows = [Trace(kind="chat", model_requested="openai/a", status=200 if i != 2 else 502,
                  latency_ms=10.0, created_at=T0 + timedelta(minutes=i),
                  application="support-bot",
                  request={"messages": [{"role": "user", "content": f"question {i}"}]},
                  response={"content": f"answer {i}"}) for i in range(4)]
    await PostgresTraceStore(runtime.pool).write(rows)
    return rows


async def queue(client, headers, **kw) -> dict:
    body = {"name": "support answers", "score_configs": ["stars"],
            "reviewers": ["rita", "sam"], **kw}
    r = await client.post("/queues", json=body, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


@pytest.fixture
async def stars(client, keys):
    r = await client.post("/score-configs", headers=keys["rita"], json={
        "name": "stars", "data_type": "numeric", "min_value": 1, "max_value": 5})
    assert r.status_code == 201, r.text


async def test_reviewers_take_one_trace_at_a_time_score_it_and_move_on(
        client, runtime, keys, traces, stars):
    q = await queue(client, keys["rita"])
    assert (q["item_count"], q["pending"], q["progress"]) == (0, 0, 1.0)
    # the newest errors first by filter, then two by id (one already there: skipped)
    r = await client.post(f"/queues/{q['id']}/items", headers=keys["rita"],
                          json={"trace_filter": {"status": "error"}})
    assert r.status_code == 201 and r.json()["added"] == 1, r.text
    r = await client.post(f"/queues/{q['id']}/items", headers=keys["rita"],
                          json={"trace_ids": [str(traces[0].id), str(traces[2].id)]})
    assert (r.json()["added"], r.json()["skipped"]) == (1, 1)
    r = await client.post(f"/queues/{q['id']}/items", headers=keys["rita"],
                          json={"trace_filter": {"application": "support-bot"}, "limit": 3})
    assert (r.json()["added"], r.json()["skipped"], r.json()["truncated"]) == (2, 1, True)

    seen = []
    for who in ("rita", "sam", "rita", "sam"):
        r = await client.get(f"/queues/{q['id']}/next", headers=keys[who])
        assert r.status_code == 200, r.text
        item = r.json()["item"]
        assert item["kind"] == "trace" and item["trace"]["id"] == item["trace_id"]
        seen.append(item["trace_id"])
        # the same item until someone completes it
        again = (await client.get(f"/queues/{q['id']}/next", headers=keys[who])).json()
        assert again["item"]["item_id"] == item["item_id"]
        r = await client.post(f"/traces/{item['trace_id']}/scores", headers=keys[who],
                              json={"name": "stars", "value": 4})
        assert r.status_code == 201, r.text
        r = await client.post(f"/queues/{q['id']}/items/{item['item_id']}/complete",
                              headers=keys[who])
        assert r.status_code == 200, r.text
    # in the order they were added
    assert seen == [str(traces[i].id) for i in (2, 0, 3, 1)]
    assert (await client.get(f"/queues/{q['id']}/next", headers=keys["rita"])).status_code \
        == 204
    progress = (await client.get(f"/queues/{q['id']}", headers=keys["vera"])).json()
    assert (progress["item_count"], progress["done_count"], progress["pending"],
            progress["progress"]) == (4, 4, 0, 1.0)
    assert progress["done_by"] == {"rita": 2, "sam": 2}
    t = (await client.get(f"/traces/{seen[1]}", headers=keys["vera"])).json()
    assert [(s["name"], s["actor"]) for s in t["scores"]] == [("stars", "sam")]
    # completing again changes nothing; the events are the queue's
    r = await client.post(f"/queues/{q['id']}/items/{item['item_id']}/complete",
                          headers=keys["rita"])
    assert r.json()["done_count"] == 4
    events = await runtime.store.read_stream(streams.queue(q["id"]))
    assert [e.type for e in events].count("QueueItemCompleted") == 4
    assert [q2["name"] for q2 in (await client.get("/queues", headers=keys["vera"])).json()] \
        == ["support answers"]


async def test_run_results_join_a_queue_by_id_or_filter(client, keys, stars):
    h = keys["rita"]
    p = (await client.post("/prompts", json={"name": "qa", "content": "{{ q }}"},
                           headers=h)).json()
    ds = (await client.post("/datasets", json={"name": "qa-set"}, headers=h)).json()
    cases = (await client.post(f"/datasets/{ds['id']}/cases", headers=h, json={
        "cases": [{"input": {"q": f"q{i}"}, "expected_output": f"a{i}"} for i in range(3)]})
    ).json()["items"]
    run = (await client.post("/runs/import", headers=h, json={
        "dataset_id": ds["id"], "targets": [{"target_id": "t0", "label": "qa v1",
                                             "prompt_id": p["id"], "prompt_version": 1,
                                             "content": "{{ q }}", "model": "echo"}],
        "results": [{"run_id": "x", "case_id": c["id"], "target_id": "t0",
                     "status": "fail" if i else "pass", "output": f"out {i}"}
                    for i, c in enumerate(cases)]})).json()
    results = (await client.get(f"/runs/{run['id']}/results", headers=h)).json()["items"]
    q = await queue(client, h, name="failed answers", reviewers=[])
    r = await client.post(f"/queues/{q['id']}/items", headers=h,
                          json={"run_results": {"run_id": run["id"], "status": "fail"}})
    assert r.status_code == 201 and r.json()["added"] == 2, r.text
    passed = next(x for x in results if x["status"] == "pass")
    r = await client.post(f"/queues/{q['id']}/items", headers=h, json={
        "results": [{"run_id": run["id"], "result_id": passed["result_id"]}]})
    assert r.json()["added"] == 1
    r = await client.post(f"/queues/{q['id']}/items", headers=h, json={
        "results": [{"run_id": run["id"], "result_id": str(uuid.uuid4())}]})
    assert r.status_code == 422 and r.json()["field"] == "results", r.text

    nxt = (await client.get(f"/queues/{q['id']}/next", headers=keys["olga"])).json()
    item = nxt["item"]
    assert item["kind"] == "result" and item["result"]["status"] == "fail"
    assert item["result"]["case"]["expected_output"] in {"a1", "a2"}
    assert item["result"]["output"] in {"out 1", "out 2"}
    r = await client.post(f"/runs/{run['id']}/results/{item['result_id']}/scores",
                          headers=keys["olga"], json={"name": "stars", "value": 1})
    assert r.status_code == 201, r.text
    r = await client.post(f"/queues/{q['id']}/items/{item['item_id']}/complete",
                          headers=keys["olga"])  # no reviewers named: any editor
    assert r.json()["done_count"] == 1 and r.json()["pending"] == 2
    nxt = (await client.get(f"/queues/{q['id']}/next", headers=keys["olga"])).json()
    assert nxt["item"]["result"]["scores"] == {}  # the next one, not yet scored


async def test_bad_queues_and_the_wrong_people_are_refused(client, keys, traces, stars):
    h = keys["rita"]
    for body, field in [({"name": "x", "score_configs": ["clarity"]}, "score_configs.0"),
                        ({"name": "x", "score_configs": []}, "score_configs"),
                        ({"name": " ", "score_configs": ["stars"]}, "name")]:
        r = await client.post("/queues", json=body, headers=h)
        assert r.status_code == 422, r.text
        named = {r.json().get("field")} | {e["field"] for e in r.json().get("errors", [])}
        assert any(n and n.endswith(field) for n in named), r.json()
    q = await queue(client, h)
    r = await client.post("/queues", json={"name": "support answers",
                                           "score_configs": ["stars"]}, headers=h)
    assert r.status_code == 409 and r.json()["field"] == "name"
    await client.post(f"/queues/{q['id']}/items", headers=h,
                      json={"trace_ids": [str(traces[0].id)]})
    r = await client.get(f"/queues/{q['id']}/next", headers=keys["olga"])  # not named
    assert r.status_code == 403 and r.json()["type"].endswith("not-a-reviewer"), r.text
    item = (await client.get(f"/queues/{q['id']}/next", headers=h)).json()["item"]
    r = await client.post(f"/queues/{q['id']}/items/{item['item_id']}/complete",
                          headers=keys["olga"])
    assert r.status_code == 403
    viewer = keys["vera"]
    assert (await client.post("/queues", json={"name": "v", "score_configs": ["stars"]},
                              headers=viewer)).status_code == 403
    assert (await client.post(f"/queues/{q['id']}/items", headers=viewer,
                              json={"trace_ids": [str(traces[1].id)]})).status_code == 403
    assert (await client.post(f"/queues/{q['id']}/items/{item['item_id']}/complete",
                              headers=viewer)).status_code == 403
    assert (await client.get(f"/queues/{q['id']}", headers=viewer)).json()["done_count"] == 0
    r = await client.post(f"/queues/{q['id']}/items", headers=h,
                          json={"trace_ids": [str(uuid.uuid4())]})
    assert r.status_code == 422 and r.json()["field"] == "trace_ids"
    r = await client.post(f"/queues/{q['id']}/items", headers=h, json={})
    assert r.status_code == 422 and r.json()["field"] == "items"
    assert (await client.get(f"/queues/{uuid.uuid4()}", headers=viewer)).status_code == 404
