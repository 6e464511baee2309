"""Judge-vs-human agreement over HTTP against real Postgres: an evaluator's scores beside
people's scores of the same traces give accuracy (boolean) or correlations (numeric), the
reference score set on the evaluator or passed as ``human_score``; what is missing is a
422 naming the field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from harness.evaluation.online import score_event_id
from harness.events import EventMetadata, streams
from harness.events.feedback_events import TraceScored
from harness.tracing import PostgresTraceStore
from harness.tracing.record import Trace
from tests.support.keys import bearer_headers


@pytest.fixture
async def keys(runtime):
    return await bearer_headers(runtime, rita="editor", sam="editor", vera="viewer")


async def _judge(runtime, evaluator_id: str, trace_id: str, value: float,
                 label: str | None) -> None:
    await runtime.commands.record_facts(
        streams.trace(trace_id),
        [TraceScored(trace_id=trace_id, name="polite", data_type="numeric", value=value,
                     label=label, source="evaluator", evaluator_id=evaluator_id)],
        [score_event_id(evaluator_id, trace_id)], EventMetadata(actor="scorer"))


async def test_agreement_of_an_evaluator_with_people(client, runtime, keys):
    for body in [{"name": "correct", "data_type": "boolean"},
                 {"name": "stars", "data_type": "numeric", "min_value": 1, "max_value": 5}]:
        assert (await client.post("/score-configs", headers=keys["rita"],
                                  json=body)).status_code == 201
    r = await client.post("/evaluators", headers=keys["rita"], json={
        "name": "polite", "assertion": {"type": "llm-rubric", "value": "is polite"},
        "human_score": "correct"})
    assert r.status_code == 201, r.text
    ev = r.json()
    assert ev["human_score"] == "correct"
    url = f"/evaluators/{ev['id']}/agreement"

    r = await client.get(url, headers=keys["vera"])
    assert r.status_code == 200, r.text
    assert r.json()["n"] == 0 and r.json()["accuracy"] is None and r.json()["note"]

    traces = [Trace(kind="chat", model_requested="openai/a", status=200, latency_ms=5.0,
                    created_at=datetime.now(UTC), request={"messages": []},
                    response={"content": "ok"}) for _ in range(5)]
    await PostgresTraceStore(runtime.pool).write(traces)
    ids = [str(t.id) for t in traces]
    judged = [(1.0, "pass"), (0.0, "fail"), (1.0, "pass"), (0.0, "fail"), (1.0, "pass")]
    for t, (value, label) in zip(ids, judged, strict=True):
        await _judge(runtime, ev["id"], t, value, label)
    got = (await client.get(f"/evaluators/{ev['id']}", headers=keys["vera"])).json()
    assert got["last_24h"] == {"scores": 5, "mean": pytest.approx(0.6)}

    async def score(key: str, trace_id: str, name: str, value) -> None:
        r = await client.post(f"/traces/{trace_id}/scores", headers=keys[key],
                              json={"name": name, "value": value})
        assert r.status_code in (200, 201), r.text

    # rita agrees on traces 0-2, disagrees on 3; sam scores trace 0 the other way;
    # trace 4 has no person's score: not a pair
    for t, v in zip(ids[:4], [True, False, True, True], strict=True):
        await score("rita", t, "correct", v)
    await score("sam", ids[0], "correct", False)
    out = (await client.get(url, headers=keys["vera"])).json()
    assert out["data_type"] == "boolean" and out["human_score"] == "correct"
    assert out["n"] == 5 and out["traces"] == 4
    assert out["accuracy"] == pytest.approx(3 / 5)
    assert out["confusion"] == {"both_pass": 2, "both_fail": 1, "judge_pass_human_fail": 1,
                                "judge_fail_human_pass": 1}
    assert out["pearson"] is None
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    out = (await client.get(url, params={"since": later}, headers=keys["vera"])).json()
    assert out["n"] == 0  # only people's scores given from then on
    r = await client.get(url, params={"since": "yesterday"}, headers=keys["vera"])
    assert r.status_code == 422

    # numeric people's scores: correlations instead, asked for by name
    for t, v in zip(ids, [5, 1, 4, 2, 5], strict=True):
        await score("rita", t, "stars", v)
    out = (await client.get(url, params={"human_score": "stars"}, headers=keys["vera"])).json()
    assert out["data_type"] == "numeric" and out["n"] == 5
    assert out["pearson"] > 0.9 and out["spearman"] > 0.8 and out["accuracy"] is None

    # without a reference on the evaluator the query must name one
    r = await client.patch(f"/evaluators/{ev['id']}", headers=keys["rita"],
                           json={"human_score": None})
    assert r.status_code == 200 and r.json()["human_score"] is None
    r = await client.get(url, headers=keys["vera"])
    assert r.status_code == 422 and r.json()["field"] == "human_score", r.text
    r = await client.get(url, params={"human_score": "nope"}, headers=keys["vera"])
    assert r.status_code == 422 and r.json()["field"] == "human_score", r.text
    r = await client.get("/evaluators/none/agreement", params={"human_score": "stars"},
                         headers=keys["vera"])
    assert r.status_code == 404
    r = await client.post("/evaluators", headers=keys["rita"], json={
        "name": "x", "assertion": {"type": "contains", "value": "a"},
        "human_score": "not a name"})
    assert r.status_code == 422 and r.json()["field"] == "human_score", r.text
