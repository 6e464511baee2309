"""Online evaluators over HTTP against real Postgres: created, refused naming the field,
changed, paused and resumed (events on ``evaluator-<id>``; a rebuild gives the read model
back); viewers read, cannot write."""

from __future__ import annotations

import pytest

from harness.events import streams
from harness.eventstore import EventStore
from services.registry.read import projections
from tests.support.keys import bearer_headers

RUBRIC = {"type": "llm-rubric", "value": "answers politely"}


@pytest.fixture
async def keys(runtime):
    return await bearer_headers(runtime, rita="editor", vera="viewer")


async def test_evaluators_are_created_changed_paused_and_resumed(client, runtime, keys):
    r = await client.post("/evaluators", headers=keys["rita"], json={
        "name": "polite", "assertion": RUBRIC, "sampling_rate": 0.25,
        "traffic": {"application": "support", "source": "gateway"},
        "judge_model": "openai/judge"})
    assert r.status_code == 201, r.text
    ev = r.json()
    assert ev["status"] == "active" and ev["created_by"] == "rita"
    assert ev["traffic"] == {"application": "support", "source": "gateway"}

    for body, field in [({"name": "x", "metric": "bleu"}, "metric"),
                        ({"name": "x"}, "assertion"),
                        ({"name": "x", "assertion": {"type": "nope"}}, "assertion"),
                        ({"name": "polite", "assertion": RUBRIC}, "name")]:
        r = await client.post("/evaluators", headers=keys["rita"], json=body)
        assert r.status_code in (409, 422) and r.json().get("field") == field, r.text
    r = await client.post("/evaluators", headers=keys["rita"],
                          json={"name": "x", "assertion": RUBRIC, "sampling_rate": 2})
    assert r.status_code == 422
    r = await client.post("/evaluators", headers=keys["vera"],
                          json={"name": "x", "assertion": RUBRIC})
    assert r.status_code == 403

    url = f"/evaluators/{ev['id']}"
    r = await client.patch(url, headers=keys["rita"],
                           json={"sampling_rate": 1, "status": "paused",
                                 "traffic": {"model": "openai/a"}})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "paused" and r.json()["sampling_rate"] == 1.0
    assert r.json()["traffic"] == {"model": "openai/a"}
    assert r.json()["assertion"] == RUBRIC
    r = await client.patch(url, headers=keys["rita"], json={"status": "active",
                                                            "metric": "answer_relevancy"})
    assert r.json()["status"] == "active" and r.json()["assertion"] is None
    assert (await client.patch("/evaluators/none", headers=keys["rita"],
                               json={"status": "paused"})).status_code == 404

    listed = (await client.get("/evaluators", headers=keys["vera"])).json()
    assert [e["name"] for e in listed] == ["polite"]
    assert (await client.get("/evaluators?status=paused", headers=keys["vera"])).json() == []
    assert (await client.get(url, headers=keys["vera"])).json()["metric"] == "answer_relevancy"
    events = await runtime.store.read_stream(streams.evaluator(ev["id"]))
    assert [e.type for e in events] == ["EvaluatorCreated", "EvaluatorChanged",
                                        "EvaluatorPaused", "EvaluatorChanged",
                                        "EvaluatorResumed"]

    # the read model is a projection: a rebuild gives it back row for row
    async def dump():
        return [dict(r) for r in await runtime.pool.fetch("SELECT * FROM evaluators ORDER BY id")]

    before = await dump()
    await projections.rebuild(EventStore(runtime.pool))
    assert await dump() == before
