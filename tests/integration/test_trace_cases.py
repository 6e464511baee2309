"""Traces become test cases (``POST /datasets/{id}/cases/from-traces``) against real
Postgres: an application call through the gateway gives the variables it rendered (masked),
other calls their messages; the answer as expected output; provenance; duplicates refused
or skipped; a filter's newest traces up to the cap; viewers cannot write."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from harness import apikeys
from harness.events import streams
from harness.tracing import PostgresTraceStore
from harness.tracing.record import Trace
from services.gateway.config import GatewaySettings
from tests.support.gateway import serve_gateway
from tests.support.stub_llm import StubLLM

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)


def trace(i: int, **kw) -> Trace:
    base = dict(kind="chat", model_requested="openai/a", status=200, latency_ms=10.0,
                created_at=T0 + timedelta(minutes=i), source="runner",
                request={"messages": [{"role": "user", "content": f"question {i}"}]},
                response={"content": f"answer {i}"})
    return Trace(**{**base, **kw})


async def dataset(client, name: str = "from-traffic") -> str:
    r = await client.post("/datasets", json={"name": name})
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def test_an_application_call_becomes_a_case_with_its_masked_variables(runtime):
    async with StubLLM() as stub:
        settings = GatewaySettings(deployments={"*": {"api_base": stub.base_url,
                                                      "api_key": "sk-test"}},
                                   trace_flush_s=0.05)
        stub.reply("primary", lambda body: "Dear customer, we wrote to hong@example.com")
        async with serve_gateway(runtime, settings) as gw, gw.http() as h:
            p = (await h.post("/prompts", json={
                "name": "support", "content": [{"role": "system", "content":
                                                "Answer {{ customer }} in a {{ tone }} tone."}]}
                              )).json()
            r = await h.post("/applications", json={"name": "support-bot", "prompt_id": p["id"],
                                                     "model_id": "openai/primary"})
            assert r.status_code == 201, r.text
            key = await gw.key("app-key", applications=["support-bot"])  # policy: mask
            await gw.sdk(key).chat.completions.create(
                model="app/support-bot", messages=[{"role": "user", "content": "where is it?"}],
                extra_body={"variables": {"customer": "hong@example.com", "tone": "kind"}})
            await gw.gateway.traces.flush()
            [t] = (await h.get("/traces", params={"application": "support-bot"})).json()["items"]
            ds = await dataset(h)
            r = await h.post(f"/datasets/{ds}/cases/from-traces",
                             json={"trace_ids": [t["id"]], "answer_as_expected": True})
            assert r.status_code == 201, r.text
            body = r.json()
            assert body["added"] == 1 and body["skipped_trace_ids"] == []
            [case] = body["items"]
            assert case["input"] == {"customer": "[EMAIL]", "tone": "kind"}
            assert case["expected_output"] == "Dear customer, we wrote to [EMAIL]"
            assert "hong@example.com" not in r.text
            prov = case["metadata"]["from_trace"]
            assert prov["trace_id"] == t["id"] and prov["application"] == "support-bot"
            assert prov["prompt_id"] == p["id"] and prov["prompt_version"] == 1
            listed = (await h.get(f"/datasets/{ds}/cases")).json()["items"]
            assert [c["id"] for c in listed] == [case["id"]]

            # the same trace again: refused by its id, nothing added; or skipped and reported
            r = await h.post(f"/datasets/{ds}/cases/from-traces", json={"trace_ids": [t["id"]]})
            assert r.status_code == 409, r.text
            assert r.json()["trace_ids"] == [t["id"]] and t["id"] in r.json()["detail"]
            r = await h.post(f"/datasets/{ds}/cases/from-traces",
                             json={"trace_ids": [t["id"]], "skip_duplicates": True})
            assert r.status_code == 201, r.text
            assert r.json()["added"] == 0 and r.json()["skipped_trace_ids"] == [t["id"]]
            assert (await h.get(f"/datasets/{ds}")).json()["case_count"] == 1
    # the dataset's usual case event
    events = await runtime.store.read_stream(streams.dataset(ds))
    added = [e for e in events if e.type == "CasesAdded"]
    assert [(e.data["source"], len(e.data["cases"])) for e in added] == [("traces", 1)]


async def test_other_calls_give_their_messages_and_a_filter_takes_the_newest_up_to_the_cap(
        client, runtime):
    traces = [trace(i) for i in range(5)] + [trace(9, source="gateway")]
    await PostgresTraceStore(runtime.pool).write(traces)
    ds = await dataset(client)
    r = await client.post(f"/datasets/{ds}/cases/from-traces",
                          json={"filter": {"source": "runner"}, "limit": 2})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["selected"] == 2 and body["limit"] == 2 and body["truncated"] is True
    got = {c["metadata"]["from_trace"]["trace_id"]: c for c in body["items"]}
    assert set(got) == {str(traces[4].id), str(traces[3].id)}  # the newest runner traces
    case = got[str(traces[4].id)]
    assert case["input"] == {"messages": [{"role": "user", "content": "question 4"}]}
    assert case["expected_output"] is None  # not asked
    # the whole filter: the two already added are refused by id, or skipped
    r = await client.post(f"/datasets/{ds}/cases/from-traces",
                          json={"filter": {"source": "runner", "q": "question"}})
    assert r.status_code == 409 and set(r.json()["trace_ids"]) == set(got)
    r = await client.post(f"/datasets/{ds}/cases/from-traces",
                          json={"filter": {"source": "runner"}, "skip_duplicates": True})
    assert r.status_code == 201 and r.json()["added"] == 3 and r.json()["truncated"] is False
    assert set(r.json()["skipped_trace_ids"]) == set(got)


@pytest.mark.parametrize(("body", "field"), [
    ({}, "trace_ids"),
    ({"trace_ids": [str(uuid.uuid4())], "filter": {}}, "trace_ids"),
    ({"trace_ids": []}, "trace_ids"),
    ({"trace_ids": ["not-a-uuid"]}, "trace_ids"),
    ({"filter": {"status": "fine"}}, "status"),
    ({"filter": {"min_latency_ms": -1}}, "min_latency_ms"),
    ({"filter": {"since": "2026-03-02T00:00:00Z", "until": "2026-03-01T00:00:00Z"}}, "filter"),
    ({"filter": {}, "limit": 1001}, "limit"),
    ({"filter": {"source": "runner"}, "answer_as_expected": "maybe"}, "answer_as_expected"),
])
async def test_bad_requests_are_a_422_naming_the_field(client, body, field):
    ds = await dataset(client)
    r = await client.post(f"/datasets/{ds}/cases/from-traces", json=body)
    assert r.status_code == 422, r.text
    named = {r.json().get("field")} | {e["field"] for e in r.json().get("errors", [])}
    assert any(field in (n or "") for n in named), r.json()


async def test_unknown_or_unusable_traces_are_named_and_nothing_is_added(client, runtime):
    usable, failed = trace(1), trace(2, status=502, error="down", response=None)
    await PostgresTraceStore(runtime.pool).write([usable, failed])
    ds = await dataset(client)
    unknown = str(uuid.uuid4())
    r = await client.post(f"/datasets/{ds}/cases/from-traces",
                          json={"trace_ids": [str(usable.id), unknown]})
    assert r.status_code == 422 and r.json()["trace_ids"] == [unknown], r.text
    r = await client.post(f"/datasets/{ds}/cases/from-traces",
                          json={"trace_ids": [str(usable.id), str(failed.id)],
                                "answer_as_expected": True})
    assert r.status_code == 422 and r.json()["trace_ids"] == [str(failed.id)], r.text
    r = await client.post(f"/datasets/{ds}/cases/from-traces",
                          json={"filter": {"application": "nothing-like-it"}})
    assert r.status_code == 422 and r.json()["field"] == "filter"
    assert (await client.get(f"/datasets/{ds}")).json()["case_count"] == 0
    r = await client.post(f"/datasets/{uuid.uuid4()}/cases/from-traces",
                          json={"trace_ids": [str(usable.id)]})
    assert r.status_code == 404


async def test_viewers_cannot_add_cases_from_traces(client, runtime):
    t = trace(0)
    await PostgresTraceStore(runtime.pool).write([t])
    ds = await dataset(client)
    viewer = await apikeys.create_key(runtime.pool, "vera", "viewer")
    editor = await apikeys.create_key(runtime.pool, "ed", "editor")
    await asyncio.sleep(0)
    runtime.auth.invalidate()
    body = {"trace_ids": [str(t.id)]}
    r = await client.post(f"/datasets/{ds}/cases/from-traces", json=body,
                          headers={"Authorization": f"Bearer {viewer}"})
    assert r.status_code == 403
    r = await client.post(f"/datasets/{ds}/cases/from-traces", json=body,
                          headers={"Authorization": f"Bearer {editor}"})
    assert r.status_code == 201, r.text
    events = await runtime.store.read_stream(streams.dataset(ds))
    assert events[-1].metadata.actor == "ed"
