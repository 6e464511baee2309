"""Hostile input against the API added for issues 16 and 18 (score alerts, evaluator
agreement, version config, multimodal content parts, weighted splits, a run's recorded
keys, the gateway's content parts and ``app/<name>`` with a split), over HTTP on real
Postgres: every answer is a 4xx problem document naming what and where, or a correct 2xx;
never a 500, a hang (each call has a 60 s hang guard) or a half-written state."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime

import pytest

from harness.evaluation.online import score_event_id
from harness.events import EventMetadata, streams
from harness.events.feedback_events import TraceScored
from harness.tracing import PostgresTraceStore
from harness.tracing.record import Trace

HANG_S = 60.0


async def call(method, *args, **kw):
    return await asyncio.wait_for(method(*args, **kw), timeout=HANG_S)


def answered(r, *allowed: int, gateway: bool = False) -> dict | list | None:
    """A 2xx, or a 4xx problem document saying what; never a 5xx. (The gateway's OpenAI
    routes answer application/json: the problem's fields and OpenAI's ``error`` object.)"""
    assert r.status_code < 500, (r.status_code, r.text[:2000])
    if allowed:
        assert r.status_code in allowed, (r.status_code, r.text[:2000])
    if r.status_code >= 400:
        kind = "application/json" if gateway else "application/problem+json"
        assert r.headers["content-type"].startswith(kind), r.text[:500]
        body = r.json()
        assert body["status"] == r.status_code and body.get("detail"), body
        if gateway:
            assert body["error"]["message"], body
        return body
    return r.json() if r.content else None


def raw(client, method: str, url: str, text: str):
    return call(client.request, method, url, content=text.encode("utf-8", "surrogatepass"),
                headers={"content-type": "application/json"})


async def _prompt(client, name="hostile", content="Hi {{ x }}", **kw) -> str:
    r = await call(client.post, "/prompts", json={"name": name, "content": content, **kw})
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def _traces(runtime, n: int) -> list[str]:
    traces = [Trace(kind="chat", model_requested="m", status=200, latency_ms=5.0,
                    created_at=datetime.now(UTC),
                    request={"messages": [{"role": "user", "content": "hi"}]},
                    response={"content": "hello"}) for _ in range(n)]
    await PostgresTraceStore(runtime.pool).write(traces)
    return [str(t.id) for t in traces]


# ---- score alerts --------------------------------------------------------------------------

@pytest.mark.parametrize("body", [
    {"score_name": "s\x00", "threshold": 1},
    {"score_name": "s", "threshold": 1, "name": "a\x00b"},
    {"score_name": "s", "threshold": 1, "evaluator_id": "\x00"},
    {"score_name": "s", "threshold": 1, "model": "m\x00"},
    {"score_name": "s", "threshold": 1, "webhook_url": "http://exa\x00mple.com/"},
    {"score_name": "s", "threshold": 1e308},
    {"score_name": "s", "threshold": -1e308},
    {"score_name": "s", "threshold": -0.0},
    {"score_name": "s", "threshold": 2**63},
    {"score_name": "s", "threshold": 2**64},
    {"score_name": "s", "threshold": 1, "window_minutes": 2**63},
    {"score_name": "s", "threshold": 1, "min_scores": -0},
    {"score_name": "s", "threshold": 1, "prompt_version": 2**31},
    {"score_name": "s", "threshold": 1, "surprise": True},
    {"score_name": "\ud800", "threshold": 1},
    {"score_name": "s", "threshold": 1, "webhook_url": "http://" + "a" * 100_000 + ".com/"},
    {"score_name": "s", "threshold": 1, "webhook_url": "file:///etc/passwd"},
])
async def test_score_alert_bodies(client, body):
    before = len((await call(client.get, "/score-alerts")).json())
    text = json.dumps(body, ensure_ascii=True)
    r = await raw(client, "POST", "/score-alerts", text)
    answered(r)
    after = len((await call(client.get, "/score-alerts")).json())
    assert after == before + (1 if r.status_code == 201 else 0)


@pytest.mark.parametrize("text", [
    '{"score_name": "s", "threshold": NaN}',
    '{"score_name": "s", "threshold": Infinity}',
    '{"score_name": "s", "threshold": -Infinity}',
    '{"score_name": "s", "threshold": 1e999}',
    '{"score_name": "s", "threshold": 1, "score_name": "t"}',
])
async def test_score_alert_number_tokens(client, text):
    answered(await raw(client, "POST", "/score-alerts", text), 201, 422)


async def test_score_alert_queries(client):
    for params in ({"alert_id": "\x00"}, {"limit": 2**63}, {"limit": "NaN"},
                   {"alert_id": "x" * 10_000}):
        answered(await call(client.get, "/score-alerts/firings", params=params))
    for alert_id in ("%00", "x" * 5000, "..%2F..%2Fetc", str(uuid.uuid4())):
        answered(await call(client.get, f"/score-alerts/{alert_id}"), 404, 422)
        answered(await call(client.delete, f"/score-alerts/{alert_id}"), 404, 422)


async def test_huge_scores_are_refused_and_the_largest_keep_the_alert_mean_finite(client,
                                                                                  runtime):
    """1.7e308 was a valid score: the alert's rolling mean of two overflowed in Postgres (a
    500 on every GET /score-alerts, and the monitor's check failed)."""
    body = answered(await call(client.post, "/score-configs", json={
        "name": "huge", "data_type": "numeric", "min_value": -1.7e308}), 422)
    assert body["field"] == "min_value", body
    r = await call(client.post, "/score-configs", json={"name": "raw", "data_type": "numeric"})
    assert r.status_code == 201, r.text
    r = await call(client.post, "/score-alerts", json={
        "score_name": "raw", "threshold": 0, "min_scores": 1, "source": "human"})
    alert = answered(r, 201)["id"]
    traces = await _traces(runtime, 4)
    body = answered(await call(client.post, f"/traces/{traces[0]}/scores",
                               json={"name": "raw", "value": 1.7e308}), 422)
    assert body["field"] == "value" and "1e+15" in body["detail"]
    for trace_id, value in zip(traces[1:], (1e15, 1e15, -1e15), strict=True):
        answered(await call(client.post, f"/traces/{trace_id}/scores",
                            json={"name": "raw", "value": value}), 200, 201)
    got = answered(await call(client.get, f"/score-alerts/{alert}"), 200)
    assert (got["current"]["count"], got["current"]["mean"]) == (3, pytest.approx(1e15 / 3))
    assert [a["id"] for a in answered(await call(client.get, "/score-alerts"), 200)] == [alert]


# ---- evaluator agreement -------------------------------------------------------------------

async def test_agreement_queries(client):
    r = await call(client.post, "/evaluators", json={
        "name": "hostile", "assertion": {"type": "contains", "value": "a"}})
    answered(r, 201)
    url = f"/evaluators/{r.json()['id']}/agreement"
    for params in ({"human_score": "\x00"}, {"human_score": "x" * 1000},
                   {"since": "0001-01-01T00:00:00+14:00"},
                   {"since": "9999-12-31T23:59:59-14:00"},
                   {"since": "0001-01-01"}, {"since": "NaN"}, {"since": "1e308"},
                   {"since": "-1"}, {"since": str(2**63)}):
        answered(await call(client.get, url, params=params))
    for ev in ("%00", "x" * 5000, str(uuid.uuid4())):
        answered(await call(client.get, f"/evaluators/{ev}/agreement"), 404, 422)


async def test_agreement_of_extreme_scores_is_a_number(client, runtime):
    """Judge and people scoring 0, 1e-160 and 2e-160: the correlation's denominator
    underflowed to zero (ZeroDivisionError, a 500)."""
    r = await call(client.post, "/score-configs", json={"name": "tiny", "data_type": "numeric"})
    assert r.status_code == 201, r.text
    r = await call(client.post, "/evaluators", json={
        "name": "tiny", "assertion": {"type": "contains", "value": "a"},
        "human_score": "tiny"})
    ev = answered(r, 201)["id"]
    traces = await _traces(runtime, 3)
    for trace_id, value, judged in zip(traces, (0.0, 1e-160, 2e-160), (0.0, 1e-155, 2e-155),
                                       strict=True):
        await runtime.commands.record_facts(
            streams.trace(trace_id),
            [TraceScored(trace_id=trace_id, name="tiny", data_type="numeric",
                         value=judged, source="evaluator",
                         evaluator_id=ev)],
            [score_event_id(ev, trace_id)], EventMetadata(actor="scorer"))
        answered(await call(client.post, f"/traces/{trace_id}/scores",
                            json={"name": "tiny", "value": value}), 200, 201)
    got = answered(await call(client.get, f"/evaluators/{ev}/agreement"), 200)
    assert got["n"] == 3 and got["pearson"] == pytest.approx(1.0), got
    assert got["spearman"] == pytest.approx(1.0)


async def test_an_evaluator_score_beyond_the_bound_is_never_recorded(client, runtime):
    """An online evaluator's score of 1e200 (an assertion's or a metric's) was recorded, and
    every mean over it overflowed in Postgres: GET /evaluators/{id} and its agreement, the
    score alerts were 500s. The scorer drops it; the registry refuses it from the bus."""
    from harness.bus.wire import PoisonMessage
    from harness.events import StoredEvent
    from services.registry.service import make_ingest

    r = await call(client.post, "/evaluators", json={
        "name": "wild", "assertion": {"type": "contains", "value": "a"}})
    ev = answered(r, 201)["id"]
    [trace_id] = await _traces(runtime, 1)
    ingest = make_ingest(lambda: runtime)
    for value in (1e200, -1e16):
        event = TraceScored(trace_id=trace_id, name="wild", data_type="numeric", value=value,
                            source="evaluator", evaluator_id=ev)
        stored = StoredEvent(event_id=score_event_id(ev, trace_id),
                             stream_id=streams.trace(trace_id), stream_version=0,
                             type=event.TYPE, schema_version=1,
                             data=event.model_dump(mode="json"),
                             metadata=EventMetadata(actor="scorer"),
                             recorded_at=datetime.now(UTC), global_position=0)
        with pytest.raises(PoisonMessage, match="magnitude"):
            await ingest(stored)
    assert await runtime.pool.fetchval(
        "SELECT count(*) FROM trace_scores WHERE trace_id = $1", uuid.UUID(trace_id)) == 0
    answered(await call(client.get, f"/evaluators/{ev}"), 200)


@pytest.mark.parametrize("body", [
    {"assertion": {"type": "regex", "value": "(a+)+$"}},
    {"assertion": {"type": "regex", "value": "("}},
    {"assertion": {"type": "javascript", "value": "while(true){}"}},
    {"assertion": {"type": "python", "value": "import os"}},
    {"assertion": {"type": "contains", "value": "\x00"}},
    {"assertion": {"type": "contains", "value": "a", "weight": 1e308}},
    {"assertion": {"type": "contains", "value": "a", "threshold": -0.0}},
    {"assertion": {"type": "llm-rubric", "value": "{{ ''.__class__.__mro__ }}"}},
    {"assertion": {"type": "llm-rubric", "value": "{% include 'x' %}"}},
    {"assertion": {"type": "\x00"}},
    {"assertion": {"type": "contains"}},
    {"assertion": {"type": "contains", "value": "a"}, "sampling_rate": 1e-320},
    {"assertion": {"type": "contains", "value": "a"}, "sampling_rate": -0.0},
    {"assertion": {"type": "contains", "value": "a"}, "judge_model": "\x00"},
    {"assertion": {"type": "contains", "value": "a"}, "traffic": {"model": "\ud800"}},
    {"assertion": {"type": "contains", "value": "a"}, "traffic": {"x": 1}},
    {"metric": "\x00"}, {"metric": "x" * 100_000}, {},
    {"assertion": {"type": "contains", "value": "a"}, "metric": "faithfulness"},
])
async def test_hostile_evaluators(client, body):
    before = len(answered(await call(client.get, "/evaluators"), 200) or [])
    r = await raw(client, "POST", "/evaluators",
                  json.dumps({"name": f"ev{uuid.uuid4().hex[:6]}", **body}))
    answered(r, 201, 422)
    listed = answered(await call(client.get, "/evaluators"), 200) or []
    assert len(listed) == before + (r.status_code == 201)
    if r.status_code == 201:
        ev = r.json()["id"]
        answered(await call(client.patch, f"/evaluators/{ev}", json={"sampling_rate": 2}), 422)
        answered(await call(client.patch, f"/evaluators/{ev}",
                            json={"assertion": {"type": "regex", "value": "("}}), 422)


@pytest.mark.parametrize("when", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
async def test_a_time_beyond_the_years_in_utc_is_422_naming_it(client, runtime, when):
    """A time whose UTC moment is in year 0 or 10000 was a 500 from asyncpg (date value out
    of range) on /traces, agreement, as_of."""
    pid = await _prompt(client, f"t{uuid.uuid4().hex[:6]}")
    r = await call(client.post, "/evaluators", json={
        "name": "when", "assertion": {"type": "contains", "value": "a"}})
    ev = answered(r, 201)["id"]
    ds = answered(await call(client.post, "/datasets", json={"name": f"d{pid[:6]}"}), 201)
    for url, name in (("/traces", "since"), ("/traces", "until"),
                      (f"/evaluators/{ev}/agreement", "since"),
                      (f"/prompts/{pid}", "as_of"), (f"/prompts/{pid}/environments", "as_of")):
        body = answered(await call(client.get, url, params={name: when}), 422)
        assert [e["field"] for e in body["errors"]] == [f"query.{name}"], body
        assert "years 1 to 9999" in body["detail"]
    body = answered(await call(client.post, f"/datasets/{ds['id']}/cases/from-traces",
                               json={"filter": {"since": when}}), 422)
    assert [e["field"] for e in body["errors"]] == ["filter.since"], body
    answered(await call(client.get, "/traces", params={"since": "0001-01-01T00:00:00Z"}), 200)


async def test_trace_explorer_queries(client, runtime):
    await _traces(runtime, 3)
    for params in ({"since": "0001-01-01T00:00:00+14:00"},
                   {"until": "9999-12-31T23:59:59-14:00"},
                   {"since": "9999-12-31T23:59:59.999999-14:00"},
                   {"min_latency_ms": "1e308"}, {"min_cost_usd": "1e308"},
                   {"min_latency_ms": "-0"}, {"score_below": "-1e308"},
                   {"score_below": "1e308", "score_name": "x"}, {"q": "%"}, {"q": "_"},
                   {"q": "\\"}, {"q": "a" * 20_000},
                   {"q": "\ud800".encode("utf-8", "surrogatepass").decode("latin-1")},
                   {"cursor": "x"}, {"cursor": "eyJ0IjoiMSJ9"}, {"cursor": "a" * 20_000},
                   {"prompt_version": str(2**63)}, {"key": "\\x00"}, {"model": "'; drop table x"}):
        answered(await call(client.get, "/traces", params=params), 200, 400, 422)


# ---- version config ------------------------------------------------------------------------

def _schema(schema):
    return {"response_format": {"type": "json_schema", "json_schema": {
        "name": "x", "schema": schema}}}


def _nested(depth: int) -> dict:
    s: dict = {"type": "string"}
    for _ in range(depth):
        s = {"type": "object", "properties": {"a": s}}
    return s


@pytest.mark.parametrize("config", [
    {"model": "m\x00"},
    {"model": "\ud800"},
    {"temperature": 1e308}, {"temperature": -0.0}, {"seed": 2**63}, {"seed": -(2**63) - 1},
    {"max_tokens": 2**63 - 1}, {"n": 2**62},
    {"stop": ["\x00"]},
    {"tools": [{"type": "function", "function": {"name": "a" * 65}}]},
    {"tools": [{"type": "function", "function": {"name": f"t{i}"}} for i in range(5000)]},
    {"tool_choice": {"type": "function", "function": {"name": "\x00"}}, "tools": []},
    _schema(_nested(20)), _schema(_nested(40)), _schema(_nested(200)),
    _schema({"$ref": "#"}),
    _schema({"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}},
             "$ref": "#/$defs/a"}),
    _schema({"$ref": "http://169.254.169.254/latest/meta-data"}),
    _schema({"type": "string", "pattern": "^(a+)+$"}),
    _schema({"type": "string", "pattern": "("}),
    _schema({"type": "string", "pattern": "\x00"}),
    _schema({"type": "string", "format": "\x00"}),
    _schema({"type": "integer", "minimum": 1e308, "multipleOf": 1e-308}),
    _schema({"type": "object", "properties": {f"p{i}": {"type": "string"}
                                              for i in range(20_000)}}),
    {"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": []}}},
    {"logit_bias": {"\x00": 1}},
])
async def test_hostile_version_configs(client, config):
    pid = await _prompt(client)
    r = await raw(client, "POST", f"/prompts/{pid}/versions",
                  json.dumps({"content": "v2", "config": config}))
    answered(r, 201, 413, 422)
    versions = answered(await call(client.get, f"/prompts/{pid}/versions"), 200)
    items = versions["items"] if isinstance(versions, dict) else versions
    assert len(items) == (2 if r.status_code == 201 else 1)
    if r.status_code == 201:
        answered(await call(client.get, f"/prompts/{pid}/diff", params={"from": 1, "to": 2}),
                 200)
        answered(await call(client.post, f"/prompts/{pid}/render",
                            json={"version": 2, "variables": {}}), 200)


async def test_config_number_tokens(client):
    pid = await _prompt(client)
    for text in ('{"content": "v", "config": {"temperature": NaN}}',
                 '{"content": "v", "config": {"temperature": Infinity}}',
                 '{"content": "v", "config": {"seed": 1e999}}',
                 '{"content": "v", "config": {"seed'):
        answered(await raw(client, "POST", f"/prompts/{pid}/versions", text), 422, 400)


# ---- multimodal parts ----------------------------------------------------------------------

def _chat(parts) -> list:
    return [{"role": "user", "content": parts}]


@pytest.mark.parametrize("parts", [
    [{"type": "text", "text": "a\x00"}],
    [{"type": "image_url", "image_url": {"url": "\x00"}}],
    [{"type": "image_url", "image_url": {"url": "{{ x }}", "detail": "\x00"}}],
    [{"type": "image_url", "image_url": {"url": "{% include 'x' %}"}}],
    [{"type": "image_url", "image_url": {"url": "{{ ''.__class__.__mro__ }}"}}],
    [{"type": "image_url", "image_url": {"url": "{{ x"}}],
    [{"type": "input_audio", "input_audio": {"data": "{{ x }}", "format": "\ud800"}}],
    [{"type": "file", "file": {"file_data": "{{ x }}", "filename": "a\x00"}}],
    [{"type": "\x00"}],
    [{"type": "text", "text": "x", "extra": {"deep": [1] * 10}}],
    [{"type": "text", "text": "{% for i in range(10**9) %}x{% endfor %}"}],
    [{"type": "text", "text": "{{ 'x' * 10**10 }}"}],
    [{"type": "text", "text": "{{ x * 1000000000 }}"}],
    [{"type": "text", "text": "{{ self.__init__.__globals__ }}"}],
    [{"type": "text", "text": "{{ cycler.__init__.__globals__.os }}"}],
    [{"type": "image_url", "image_url": {"url": "data:image/png;base64," + "A" * 50}}] * 20000,
])
async def test_hostile_content_parts_in_prompts(client, parts):
    r = await raw(client, "POST", "/prompts", json.dumps({
        "name": f"mm-{uuid.uuid4().hex[:8]}", "content": _chat(parts)}))
    answered(r, 201, 413, 422)
    if r.status_code == 201:
        pid = r.json()["id"]
        answered(await call(client.post, f"/prompts/{pid}/render",
                            json={"variables": {"x": "y"}}), 200, 422)


async def test_a_50mb_data_url_in_an_image_part(client):
    url = "data:image/png;base64," + "A" * (50 * 1024 * 1024)
    r = await call(client.post, "/prompts", json={
        "name": "big", "content": _chat([{"type": "image_url", "image_url": {"url": url}}])})
    answered(r, 413, 422)
    pid = await _prompt(client, "bigvar", content=_chat([
        {"type": "text", "text": "see"}, {"type": "image_url", "image_url": {"url": "{{ x }}"}}]))
    answered(await call(client.post, f"/prompts/{pid}/render",
                        json={"variables": {"x": url}}), 200, 413, 422)


# ---- weighted splits -----------------------------------------------------------------------

async def _split_prompt(client, versions=3) -> str:
    pid = await _prompt(client, f"split-{uuid.uuid4().hex[:8]}", "v1")
    for i in range(2, versions + 1):
        r = await call(client.post, f"/prompts/{pid}/versions", json={"content": f"v{i}"})
        assert r.status_code == 201, r.text
    r = await call(client.post, "/applications", json={
        "name": f"app-{pid[:8]}", "model_id": "echo", "prompt_id": pid})
    assert r.status_code == 201, r.text
    return pid


@pytest.mark.parametrize("text", [
    '{"variants": [{"version": 1, "weight": 50}, {"version": 2, "weight": 49.999999}]}',
    '{"variants": [{"version": 1, "weight": 50}, {"version": 2, "weight": 49.9999999999}]}',
    '{"variants": [{"version": 1, "weight": 1e308}, {"version": 2, "weight": 1e308}]}',
    '{"variants": [{"version": 1, "weight": 5e-324}, {"version": 2, "weight": 100}]}',
    '{"variants": [{"version": 1, "weight": NaN}, {"version": 2, "weight": 100}]}',
    '{"variants": [{"version": 1, "weight": -0.0}, {"version": 2, "weight": 100}]}',
    '{"variants": [{"version": 1, "weight": Infinity}, {"version": 2, "weight": 1}]}',
    '{"variants": [{"version": 9223372036854775808, "weight": 50}, {"version": 2, "weight": 50}]}',
    '{"variants": [{"version": 99, "weight": 50}, {"version": 2, "weight": 50}]}',
    '{"variants": [{"version": 1, "weight": 50}, {"version": 1, "weight": 50}]}',
    '{"variants": [{"version": 1, "weight": 50}, {"version": 2, "weight": 50}], "x": 1}',
    '{"variants": [{"version": 1, "weight": 50}, {"version": 2, "weight": 50}],'
    ' "sticky_by": "header:x\\u0000"}',
    '{"variants": [{"version": 1, "weight": 50}, {"version": 2, "weight": 50}],'
    ' "sticky_by": "metadata.' + "a" * 100_000 + '"}',
    '{"variants": [{"version": 1, "weight": 50}, {"version": 2, "weight": 50}],'
    ' "reason": "\\ud800"}',
    '{"variants": [{"version": 1, "weight": 50}, {"version": 2, "weight": 50}],'
    ' "reason": "' + "r" * 2_000_000 + '"}',
    '{"variants": [' + ",".join(f'{{"version": {i}, "weight": 0.001}}' for i in range(1, 100_001))
    + "]}",
])
async def test_hostile_splits(client, text):
    pid = await _split_prompt(client)
    before = answered(await call(client.get, f"/prompts/{pid}/environments"), 200)
    r = await raw(client, "PUT", f"/prompts/{pid}/environments/production/split", text)
    answered(r, 200, 404, 413, 422)
    after = answered(await call(client.get, f"/prompts/{pid}/environments"), 200)
    if r.status_code != 200:
        assert after == before  # nothing half-written


async def test_split_paths_and_keys(client):
    pid = await _split_prompt(client)
    body = {"variants": [{"version": 1, "weight": 99.5}, {"version": 2, "weight": 0.5}]}
    for env in ("%00", "x" * 5000, "pro%2Fduction", "\u202e", ".."):
        answered(await call(client.put, f"/prompts/{pid}/environments/{env}/split", json=body))
        answered(await call(client.delete, f"/prompts/{pid}/environments/{env}/split"))
    answered(await call(client.put, f"/prompts/{pid}/environments/production/split",
                        json=body), 200)
    answered(await call(client.delete, f"/prompts/{pid}/environments/production/split",
                        params={"reason": "\x00"}), 422)
    answered(await call(client.delete, f"/prompts/{pid}/environments/production/split",
                        params={"reason": "r" * 30_000}))
    apps = answered(await call(client.get, "/applications"), 200)
    items = apps["items"] if isinstance(apps, dict) else apps
    app = next(a for a in items if a["prompt_id"] == pid)["id"]
    answered(await call(client.put, f"/prompts/{pid}/environments/production/split",
                        json=body))
    for key in ("\x00", "", "k" * 30_000, "%ff", "🙂" * 500):
        answered(await call(client.get, f"/applications/{app}/resolved",
                            params={"key": key}))
    answered(await call(client.get, f"/applications/{app}/resolved?key=%ED%A0%80"))
    answered(await call(client.get, f"/applications/{app}/resolved?key=%FF%FE"))


# ---- a run's recorded keys -----------------------------------------------------------------

async def test_recorded_query(client):
    for q in ("shard=-1", "shard=2147483648", "shard=1e308", "shard=NaN", "shard=%00",
              f"shard={2**63}", "shard=0&shard=1", "shard=-0"):
        answered(await call(client.get, f"/runs/{uuid.uuid4()}/recorded?{q}"))
    answered(await call(client.get, "/runs/%00/recorded?shard=0"))
    answered(await call(client.get, "/runs/" + "x" * 5000 + "/recorded"))


# ---- the gateway ---------------------------------------------------------------------------

GATEWAY_MESSAGES = [
    [{"role": "user", "content": [{"type": "text", "text": "a\x00b"}]}],
    [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "\x00"}}]}],
    [{"role": "user", "content": [{"type": "image_url",
                                   "image_url": {"url": "data:image/png;base64,"
                                                 + "A" * (8 * 1024 * 1024)}}]}],
    [{"role": "user", "content": [{"type": "\ud800"}]}],
    [{"role": "user", "content": [{"type": "input_audio", "input_audio": {"data": 1e308}}]}],
    [{"role": "user", "content": [{"type": "text", "text": {"deep": [[[[[]]]]]}}]}],
    [{"role": "user", "content": [None]}],
    [{"role": "user", "content": []}],
    [{"role": "user", "content": [{"type": "text", "text": "x"}] * 100_000}],
]


@pytest.mark.parametrize("messages", GATEWAY_MESSAGES)
async def test_gateway_content_parts(gw, stub, messages):
    stub.reply("m", "ok")
    key = await gw.key()
    async with gw.http() as h:
        r = await raw(h, "POST", "/v1/chat/completions", json.dumps(
            {"model": "openai/m", "messages": messages}))
        r.request.headers  # noqa: B018
        assert r.status_code < 500 or r.status_code == 401, r.text[:500]
        r = await call(h.post, "/v1/chat/completions",
                       headers={"Authorization": f"Bearer {key}",
                                "content-type": "application/json"},
                       content=json.dumps({"model": "openai/m", "messages": messages})
                       .encode("utf-8", "surrogatepass"))
        answered(r, gateway=True)


async def test_gateway_app_with_a_split_and_hostile_keys(gw, stub):
    stub.reply("primary", lambda body: str(body["messages"][0]["content"])[:50])
    key = await gw.key(applications=["hostile-bot"])
    auth = {"Authorization": f"Bearer {key}"}
    async with gw.http() as h:
        pid = await _prompt(h, "hostile-bot-prompt", "one {{ x }}")
        r = await h.post(f"/prompts/{pid}/versions", json={"content": "two {{ x }}"})
        assert r.status_code == 201
        r = await h.post("/applications", json={"name": "hostile-bot", "model_id":
                                                 "openai/primary", "prompt_id": pid})
        assert r.status_code == 201, r.text
        r = await h.put(f"/prompts/{pid}/environments/production/split", json={
            "variants": [{"version": 1, "weight": 50}, {"version": 2, "weight": 50}],
            "sticky_by": "metadata.uid"})
        assert r.status_code == 200, r.text
        for extra in ({"metadata": {"uid": "k" * (1024 * 1024)}},
                      {"metadata": {"uid": "\x00"}}, {"metadata": {"uid": 1e308}},
                      {"metadata": {"uid": 2**63}}, {"metadata": {"uid": ["a"]}},
                      {"metadata": "uid"}, {"metadata": {"uid": "\ud800"}},
                      {"user": "\x00"}, {"variables": {"x": "{{ 7*7 }}"}},
                      {"variables": {"x": "\x00"}}, {"variables": {"x": 1e308}},
                      {"variables": "x"}, {"variables": {"\x00": 1}}):
            body = {"model": "app/hostile-bot",
                    "messages": [{"role": "user", "content": "hi"}],
                    "variables": {"x": "y"}, **extra}
            r = await call(h.post, "/v1/chat/completions", headers={
                **auth, "content-type": "application/json"},
                content=json.dumps(body).encode("utf-8", "surrogatepass"))
            answered(r, gateway=True)


# ---- composition ---------------------------------------------------------------------------

def _ref(name: str) -> str:
    return '{{ prompt("' + name + '") }}'


async def test_a_reference_fan_out_bomb_is_refused_or_bounded(client):
    """Each level repeats the one below 50 times: level 4 would expand to gigabytes."""
    await _prompt(client, "bomb-0", "x" * 1000)
    for level in range(1, 5):
        r = await call(client.post, "/prompts", json={
            "name": f"bomb-{level}", "content": " ".join([_ref(f"bomb-{level - 1}")] * 50)})
        answered(r, 201, 413, 422)
        if r.status_code != 201:
            return
        pid = r.json()["id"]
        for url, method, kw in ((f"/prompts/{pid}/resolved", "get", {}),
                                (f"/prompts/{pid}/render", "post", {"json": {"variables": {}}})):
            got = await call(getattr(client, method), url, **kw)
            answered(got, 200, 413, 422)
            if got.status_code == 200:
                assert len(got.content) < 64 * 1024 * 1024


@pytest.mark.parametrize("content", [
    _ref("\x00"), _ref("x" * 10_000), _ref("bomb@99999999999999999999"), _ref("self@-1"),
    _ref("self@"), _ref("@production"), _ref("self@prod\\u0000"),
    '{{ prompt("self") }}', '{{ prompt("self@1") }}',
    '{{ prompt("other") | upper }}', "{{ prompt(name) }}",
    '{% include "other" %}', '{% import "other" as o %}', '{% extends "other" %}',
    "{{ ''.__class__.__mro__[1].__subclasses__() }}", "{{ lipsum.__globals__ }}",
    "{% for i in range(999999999) %}{{ i }}{% endfor %}", "{{ 'x' * 2**40 }}",
    "{{ (1,) * 999999999 }}", "{% set x = 'a' * 99999999 %}{{ x }}{{ x }}{{ x }}",
    "{% macro m(n) %}{{ m(n+1) }}{% endmacro %}{{ m(0) }}",
])
async def test_hostile_references_and_templates(client, content):
    await _prompt(client, "other", "other text")
    pid = await _prompt(client, "self", "v1")
    r = await raw(client, "POST", f"/prompts/{pid}/versions",
                  json.dumps({"content": content}))
    answered(r, 201, 413, 422)
    count = 2 if r.status_code == 201 else 1
    items = answered(await call(client.get, f"/prompts/{pid}/versions"), 200)
    assert len(items["items"] if isinstance(items, dict) else items) == count
    if r.status_code == 201:
        answered(await call(client.get, f"/prompts/{pid}/resolved"), 200, 409, 413, 422)
        answered(await call(client.post, f"/prompts/{pid}/render",
                            json={"version": 2, "variables": {"name": "other"}}),
                 200, 409, 413, 422)


async def test_a_reference_cycle_through_a_move_and_a_depth_bomb(client):
    a = await _prompt(client, "cyc-a", "a")
    answered(await call(client.put, f"/prompts/{a}/environments/staging",
                        json={"version": 1}), 200)
    await _prompt(client, "cyc-b", _ref("cyc-a@staging"))
    r = await call(client.post, f"/prompts/{a}/versions", json={"content": _ref("cyc-b")})
    answered(r, 201, 422)
    if r.status_code == 201:
        answered(await call(client.put, f"/prompts/{a}/environments/staging",
                            json={"version": 2}), 422)
    prev = await _prompt(client, "deep-0", "leaf")
    for i in range(1, 9):
        r = await call(client.post, "/prompts", json={"name": f"deep-{i}",
                                                      "content": _ref(f"deep-{i - 1}")})
        answered(r, 201, 422)
        if r.status_code == 422:
            assert i > 5 and "too-deep" in r.json()["type"], r.text
            break
        prev = r.json()["id"]
    answered(await call(client.get, f"/prompts/{prev}/resolved"), 200)


async def test_an_environment_name_the_openapi_allows_is_one_the_registry_takes(client):
    """schemathesis: ``/environments/0/split`` matched the OpenAPI (any string) and was a 422;
    the path parameter now carries the registry's pattern."""
    spec = (await call(client.get, "/openapi.json")).json()
    for path in ("/prompts/{prompt_id}/environments/{environment}",
                 "/prompts/{prompt_id}/environments/{environment}/split"):
        for op in spec["paths"][path].values():
            [param] = [p for p in op["parameters"] if p["name"] == "environment"]
            assert param["schema"]["pattern"] == "^[a-z][a-z0-9_-]{0,39}$", param
    pid = await _split_prompt(client)
    body = {"variants": [{"version": 1, "weight": 50}, {"version": 2, "weight": 50}]}
    for env in ("0", "Prod", "a" * 41):
        got = answered(await call(client.put, f"/prompts/{pid}/environments/{env}/split",
                                  json=body), 422)
        assert [e["field"] for e in got["errors"]] == ["path.environment"], got
    answered(await call(client.put, f"/prompts/{pid}/environments/{'a' * 40}",
                        json={"version": 1}), 200)
    answered(await call(client.put, f"/prompts/{pid}/environments/{'a' * 40}/split",
                        json=body), 200)


async def test_gateway_usage_with_a_time_beyond_the_years_is_422(gw):
    key = await gw.key("viewer-usage")
    async with gw.http() as h:
        for params in ({"since": "0001-01-01T00:00:00+14:00"},
                       {"until": "9999-12-31T23:59:59-14:00"},
                       {"group_by": "version", "since": "0001-01-01T00:00:00+14:00"}):
            body = answered(await call(h.get, "/metrics/usage", params=params,
                                       headers={"Authorization": f"Bearer {key}"}), 422)
            assert "years 1 to 9999" in body["detail"], body
        answered(await call(h.get, "/metrics/usage", params={"group_by": "version"},
                            headers={"Authorization": f"Bearer {key}"}), 200)
