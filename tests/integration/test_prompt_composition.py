"""Prompt composition over HTTP on real Postgres: {{ prompt("name@label") }} references
resolved by the registry (resolve, render, runs, the gateway's traces, the SDK's cache),
refused when they name nothing, close a cycle or nest too deep, and a move of a referenced
environment announced on every dependent's stream."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import pytest

from harness.client import AsyncHarnessClient
from services.gateway.config import GatewaySettings
from tests.support.gateway import serve_gateway
from tests.support.runs import wait_run
from tests.support.stub_llm import StubLLM


def ref(target: str) -> str:
    return '{{ prompt("' + target + '") }}'


async def _prompt(c, name: str, content, *more) -> dict:
    r = await c.post("/prompts", json={"name": name, "content": content})
    assert r.status_code == 201, r.text
    p = r.json()
    for extra in more:
        r = await c.post(f"/prompts/{p['id']}/versions", json={"content": extra})
        assert r.status_code == 201, r.text
    return p


async def _move(c, prompt_id: str, environment: str, version: int) -> None:
    r = await c.put(f"/prompts/{prompt_id}/environments/{environment}",
                    json={"version": version, "reason": "test"})
    assert r.status_code == 200, r.text


async def _app(c, name: str, prompt_id: str, model="echo") -> dict:
    r = await c.post("/applications", json={"name": name, "model_id": model,
                                             "prompt_id": prompt_id})
    assert r.status_code == 201, r.text
    return r.json()


async def _history_types(c, prompt_id: str) -> list[dict]:
    return [e for e in (await c.get(f"/prompts/{prompt_id}/history",
                                    params={"limit": 200})).json()["items"]]


async def _tone_and_reply(c):
    """support-tone v1 "Be warm." (production), v2 "Be brief." (staging); signature v1;
    reply's system message references support-tone@staging, which references nothing."""
    tone = await _prompt(c, "support-tone", "Be warm.", "Be brief.")
    await _move(c, tone["id"], "staging", 2)
    reply = await _prompt(c, "reply", [
        {"role": "system", "content": ref("support-tone@staging") + " Sign as {{ agent }}."},
        {"role": "user", "content": "{{ question }}"}])
    return tone, reply


async def test_resolve_render_and_versions_list_what_references_resolved_to(client):
    tone, reply = await _tone_and_reply(client)
    v1 = (await client.get(f"/prompts/{reply['id']}/versions/1")).json()
    assert v1["variables"] == ["agent", "question"]  # no "prompt": a reference is no variable
    assert v1["references"] == [{"ref": "support-tone@staging", "prompt_id": tone["id"],
                                 "name": "support-tone", "environment": "staging",
                                 "version": None}]
    app = await _app(client, "helpdesk", reply["id"])

    resolved = (await client.get(f"/applications/{app['id']}/resolved")).json()
    assert resolved["content"][0]["content"] == "Be brief. Sign as {{ agent }}."
    assert resolved["variables"] == ["agent", "question"]
    tone_v2 = (await client.get(f"/prompts/{tone['id']}/versions/2")).json()
    assert resolved["references"] == [{
        "ref": "support-tone@staging", "prompt_id": tone["id"], "prompt_name": "support-tone",
        "id": tone_v2["id"], "version": 2, "environment": "staging",
        "referenced_by": reply["id"], "depth": 1}]

    # nested: support-tone v3 references signature@1; staging moves to it
    sig = await _prompt(client, "signature", "-- {{ agent }}, {{ team }}")
    r = await client.post(f"/prompts/{tone['id']}/versions",
                          json={"content": "Be kind. " + ref("signature@1")})
    assert r.status_code == 201, r.text
    before_move = datetime.now(UTC)
    await _move(client, tone["id"], "staging", 3)
    resolved = (await client.get(f"/applications/{app['id']}/resolved")).json()
    assert resolved["content"][0]["content"] == (
        "Be kind. -- {{ agent }}, {{ team }} Sign as {{ agent }}.")
    assert resolved["variables"] == ["agent", "question", "team"]
    assert [(x["prompt_name"], x["version"], x["environment"], x["depth"],
             x["referenced_by"]) for x in resolved["references"]] == [
        ("support-tone", 3, "staging", 1, reply["id"]), ("signature", 1, None, 2, tone["id"])]

    # what the application ran before the move, folded from events
    past = (await client.get(f"/applications/{app['id']}/resolved",
                             params={"as_of": before_move.isoformat()})).json()
    assert past["content"][0]["content"] == "Be brief. Sign as {{ agent }}."
    assert [(x["prompt_name"], x["version"]) for x in past["references"]] == [
        ("support-tone", 2)]

    # render and the prompt-level resolve expand the same way
    out = (await client.post(f"/prompts/{reply['id']}/render", json={"variables": {
        "agent": "Ana", "team": "Care", "question": "Where is my order?"}})).json()
    assert out["messages"] == [
        {"role": "system", "content": "Be kind. -- Ana, Care Sign as Ana."},
        {"role": "user", "content": "Where is my order?"}]
    assert [x["prompt_name"] for x in out["references"]] == ["support-tone", "signature"]
    pr = (await client.get(f"/prompts/{tone['id']}/resolved",
                           params={"environment": "production"})).json()
    assert (pr["version"], pr["content"], pr["references"]) == (1, "Be warm.", [])
    default = (await client.get(f"/prompts/{tone['id']}/resolved")).json()
    assert (default["version"], default["environment"]) == (1, "production")  # says so
    pr = (await client.get(f"/prompts/{tone['id']}/resolved", params={"version": 3})).json()
    assert pr["environment"] is None  # asked by version
    assert pr["content"] == "Be kind. -- {{ agent }}, {{ team }}"
    assert pr["template"] == "Be kind. " + ref("signature@1")

    # a rename of the referenced prompt keeps the reference (bound by id)
    r = await client.patch(f"/prompts/{tone['id']}", json={"name": "house-tone"})
    assert r.status_code == 200, r.text
    resolved = (await client.get(f"/applications/{app['id']}/resolved")).json()
    assert resolved["references"][0]["prompt_name"] == "house-tone"
    assert resolved["content"][0]["content"].startswith("Be kind. -- {{ agent }}")
    assert sig["id"] == resolved["references"][1]["prompt_id"]


async def test_bad_references_are_refused_at_creation_with_nothing_written(client):
    tone = await _prompt(client, "support-tone", "Be warm.")
    chat = await _prompt(client, "chatty", [{"role": "user", "content": "hi"}])
    host = await _prompt(client, "host", "v1")
    cases = [
        (ref("nope@production"), 422, "no prompt named 'nope'"),
        (ref("support-tone@7"), 422, "has no version 7"),
        (ref("support-tone@canary"), 422, "no version in environment 'canary'"),
        ('Hi {% include "support-tone" %}', 422, '{{ prompt("name@environment") }}'),
        ("{{ prompt(tone) }}", 422, "one quoted name"),
        ('{{ prompt("support-tone") | upper }}', 422, "stand alone"),
        (ref("chatty"), 422, "chat prompt"),
        (ref("host@1"), 422, "cannot reference itself"),
    ]
    for content, status, detail in cases:
        r = await client.post(f"/prompts/{host['id']}/versions", json={"content": content})
        assert r.status_code == status, (content, r.text)
        body = r.json()
        assert r.headers["content-type"].startswith("application/problem+json")
        assert detail in body["detail"], (content, body)
        assert body.get("field") == "content", body
    r = await client.post("/prompts", json={"name": "new-one", "content": ref("nope")})
    assert r.status_code == 422 and "no prompt named 'nope'" in r.json()["detail"]
    assert (await client.get(f"/prompts/{host['id']}")).json()["latest_version"] == 1
    assert (await client.get("/prompts", params={"q": "new-one"})).json()["total"] == 0
    assert tone["id"] and chat["id"]


async def test_cycles_are_422_naming_the_cycle_at_creation_and_at_resolve(client):
    a = await _prompt(client, "a", "A")
    b = await _prompt(client, "b", ref("a"))
    r = await client.post(f"/prompts/{a['id']}/versions", json={"content": ref("b")})
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["type"].endswith("reference-cycle") and body["cycle"] == ["a", "b", "a"]
    assert "a → b → a" in body["detail"]

    # a cycle that only a later move would close: y → x@staging → z → y
    x = await _prompt(client, "x", "X")
    await _move(client, x["id"], "staging", 1)
    y = await _prompt(client, "y", ref("x@staging"))
    z = await _prompt(client, "z", "Z")
    r = await client.post(f"/prompts/{x['id']}/versions", json={"content": ref("z")})
    assert r.status_code == 201, r.text
    r = await client.post(f"/prompts/{z['id']}/versions",
                          json={"content": ref("y"), "activate": True})
    assert r.status_code == 201, r.text
    app = await _app(client, "cyclic", y["id"])
    before = (await client.get(f"/applications/{app['id']}/resolved")).json()
    assert before["content"] == "X"
    heard = len(await _history_types(client, y["id"]))
    r = await client.put(f"/prompts/{x['id']}/environments/staging",
                         json={"version": 2, "reason": "would loop"})
    assert r.status_code == 422, r.text
    assert r.json()["type"].endswith("reference-cycle")
    assert r.json()["cycle"] == ["x", "z", "y", "x"]
    # nothing moved: the application resolves as before, and no dependent heard of a move
    assert (await client.get(f"/applications/{app['id']}/resolved")).json() == before
    assert len(await _history_types(client, y["id"])) == heard
    # the same through an activation: z's production v2 → y → x@staging(v2) → z
    r = await client.put(f"/prompts/{z['id']}/versions/1/activate", json={"reason": "back"})
    assert r.status_code == 200, r.text
    await _move(client, x["id"], "staging", 2)  # x v2 → z v1 "Z": no cycle now
    r = await client.put(f"/prompts/{z['id']}/versions/2/activate", json={"reason": "loop"})
    assert r.status_code == 422 and r.json()["cycle"] == ["z", "y", "x", "z"], r.text
    assert b["id"]


async def test_depth_limit_is_422(client):
    prev = await _prompt(client, "p0", "base")
    for i in range(1, 6):  # p5 → p4 → ... → p0: five references deep, the limit
        prev = await _prompt(client, f"p{i}", ref(f"p{i - 1}"))
    r = await client.post("/prompts", json={"name": "p6", "content": ref("p5")})
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["type"].endswith("reference-too-deep") and body["max_depth"] == 5
    assert "p6 → p5 → p4 → p3 → p2 → p1" in body["detail"]
    resolved = (await client.get(f"/prompts/{prev['id']}/resolved")).json()
    assert resolved["content"] == "base" and len(resolved["references"]) == 5


async def test_moving_a_referenced_environment_emits_an_event_for_each_dependent(client):
    tone, reply = await _tone_and_reply(client)
    outer = await _prompt(client, "outer", "Outer: {{ x }}")
    # outer v2 references middle (pinned), which references support-tone@staging
    middle = await _prompt(client, "middle", "M " + ref("support-tone@staging"))
    r = await client.post(f"/prompts/{outer['id']}/versions",
                          json={"content": ref("middle@1") + " {{ x }}"})
    assert r.status_code == 201, r.text
    on_prod = await _prompt(client, "on-prod", ref("support-tone"))
    unrelated = await _prompt(client, "unrelated", "nothing")

    await _move(client, tone["id"], "staging", 1)
    moved = [(e["type"], e["data"]) for e in await _history_types(client, tone["id"])
             if e["type"] == "PromptEnvironmentMoved"]
    assert moved[-1][1]["version"] == 1

    def reference_events(history):
        return [e["data"] for e in history if e["type"] == "PromptReferenceMoved"]

    for dependent in (reply, middle, outer):  # outer through middle (pinned middle@1)
        history = await _history_types(client, dependent["id"])
        (entry,) = [e for e in history if e["type"] == "PromptReferenceMoved"]
        # the dependent's own versions did not move: the entry says whose did
        assert (entry["version"], entry["previous_version"], entry["note"]) == (
            None, None, "support-tone@staging: v2 → v1")
        (ev,) = reference_events(history)
        assert ev == {"prompt_id": dependent["id"], "referenced_prompt_id": tone["id"],
                      "referenced_name": "support-tone", "environment": "staging",
                      "version": 1, "previous_version": 2}
    for other in (on_prod, unrelated):  # references production, or nothing
        assert reference_events(await _history_types(client, other["id"])) == []

    # activating a version moves production: on-prod hears of it, the staging ones do not
    r = await client.put(f"/prompts/{tone['id']}/versions/2/activate", json={"reason": "t"})
    assert r.status_code == 200, r.text
    (ev,) = reference_events(await _history_types(client, on_prod["id"]))
    assert (ev["environment"], ev["version"], ev["previous_version"]) == ("production", 2, 1)
    assert len(reference_events(await _history_types(client, reply["id"]))) == 1

    # the events are on the global feed too (SSE, webhooks, Pub/Sub read it)
    page = (await client.get("/events", params={"after": 0, "limit": 1000})).json()
    feed = [e for e in page["items"] if e["type"] == "PromptReferenceMoved"]
    assert {e["stream_id"] for e in feed} == {
        f"prompt-{p['id']}" for p in (reply, middle, outer, on_prod)}
    causes = {e["metadata"]["causation_id"] for e in feed}
    moves = [e for e in page["items"] if e["type"] in (
        "PromptEnvironmentMoved", "PromptVersionActivated") and e["stream_id"] ==
        f"prompt-{tone['id']}"]
    assert causes <= {m["event_id"] for m in moves} and len(causes) == 2
    # clearing the environment leaves the dependents unresolved (409), and tells them
    r = await client.delete(f"/prompts/{tone['id']}/environments/staging")
    assert r.status_code == 200, r.text
    assert len(reference_events(await _history_types(client, reply["id"]))) == 2
    r = await client.post(f"/prompts/{middle['id']}/render", json={"variables": {}})
    assert r.status_code == 409 and r.json()["type"].endswith("reference-unresolved")


@pytest.fixture(autouse=False)
def _fake_key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")


async def test_runs_render_composed_prompts_pinned_at_request_time(stack_client, _fake_key):
    c = stack_client
    tone = await _prompt(c, "support-tone", "Be warm.", "Be brief.")
    await _move(c, tone["id"], "staging", 1)
    reply = await _prompt(c, "reply", ref("support-tone@staging") + " Q: {{ q }}")
    ds = (await c.post("/datasets", json={"name": "qs"})).json()
    r = await c.post(f"/datasets/{ds['id']}/cases", json={"cases": [
        {"input": {"q": "one"}}, {"input": {"q": "two"}}]})
    assert r.status_code == 201, r.text
    r = await c.post("/runs", json={"dataset_id": ds["id"], "models": ["echo"], "targets": [
        {"prompt_id": reply["id"], "version": 1}]})
    assert r.status_code == 202, r.text
    run = r.json()
    # the environment moves right after the request: the run keeps what it pinned
    await _move(c, tone["id"], "staging", 2)
    done = await wait_run(c, run["id"])
    assert done["status"] == "completed", done
    (target,) = done["targets"]
    assert target["content"] == "Be warm. Q: {{ q }}"
    tone_v1 = (await c.get(f"/prompts/{tone['id']}/versions/1")).json()
    assert [(x["prompt_id"], x["id"], x["version"], x["environment"])
            for x in target["references"]] == [(tone["id"], tone_v1["id"], 1, "staging")]
    results = (await c.get(f"/runs/{run['id']}/results")).json()["items"]
    assert sorted(x["output"] for x in results) == ["Be warm. Q: one", "Be warm. Q: two"]
    # the run's LLM calls are traced with the versions the references resolved to
    async def traced():
        return (await c.get("/traces", params={"run_id": run["id"]})).json()["items"]
    for _ in range(600):  # a hang guard: traces are written in batches
        if len(await traced()) == 2:
            break
        await asyncio.sleep(0.1)
    items = await traced()
    assert len(items) == 2
    for item in items:
        trace = (await c.get(f"/traces/{item['id']}")).json()
        assert [(x["prompt_id"], x["version"]) for x in trace["prompt"]["references"]] == [
            (tone["id"], 1)]
    # a new run renders what staging points at now
    r = await c.post("/runs", json={"dataset_id": ds["id"], "models": ["echo"], "targets": [
        {"prompt_id": reply["id"], "version": 1}]})
    again = await wait_run(c, r.json()["id"])
    assert again["targets"][0]["content"] == "Be brief. Q: {{ q }}"


async def test_gateway_app_call_renders_the_composed_prompt_and_traces_the_versions(
        runtime, client):
    tone, reply = await _tone_and_reply(client)
    await _app(client, "helpdesk", reply["id"], model="openai/primary")
    async with StubLLM() as stub:
        stub.reply("primary", lambda body: " | ".join(m["content"] for m in body["messages"]))
        settings = GatewaySettings(deployments={"*": {"api_base": stub.base_url,
                                                      "api_key": "sk-test"}},
                                   num_retries=0, timeout_s=5, trace_flush_s=0.05)
        async with serve_gateway(runtime, settings) as gw:
            sdk = gw.sdk(await gw.key(applications=["helpdesk"]))
            out = await sdk.chat.completions.create(
                model="app/helpdesk", messages=[{"role": "user", "content": "hello"}],
                extra_body={"variables": {"agent": "Ana", "question": "Where?"}})
            assert out.choices[0].message.content == (
                "Be brief. Sign as Ana. | Where? | hello")
            await gw.gateway.traces.flush()
    trace_id = await runtime.pool.fetchval(
        "SELECT id FROM gateway_traces WHERE application = 'helpdesk'")
    trace = (await client.get(f"/traces/{trace_id}")).json()
    assert trace["prompt"]["id"] == reply["id"] and trace["prompt"]["version"] == 1
    assert [(x["prompt_id"], x["version"], x["environment"])
            for x in trace["prompt"]["references"]] == [(tone["id"], 2, "staging")]


async def _until(predicate, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout  # a hang guard, not a threshold
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.01)
    return predicate()


async def test_sdk_refreshes_a_dependent_prompt_after_its_reference_moved(client, live_url):
    tone, reply = await _tone_and_reply(client)
    await _app(client, "helpdesk", reply["id"])
    async with AsyncHarnessClient(live_url, ttl_s=3600) as hc:
        app = await hc.resolve("helpdesk")
        active = await hc.get_prompt("reply")
        pinned = await hc.get_prompt("reply", 1)
        for value in (app, active, pinned):
            assert value.content[0]["content"] == "Be brief. Sign as {{ agent }}."
            assert [r["version"] for r in value.references] == [2]
        assert app.render(agent="Ana", question="Hi?")[0]["content"] == (
            "Be brief. Sign as Ana.")
        assert await hc.wait_connected(60)
        requests = hc.stats.requests

        await _move(client, tone["id"], "staging", 1)  # no request by the app: only events

        def refreshed(kind, key):
            e = hc.cached(key, kind=kind)
            return e is not None and e.content[0]["content"] == "Be warm. Sign as {{ agent }}."

        assert await _until(lambda: refreshed("app", "helpdesk") and refreshed(
            "prompt", "reply") and hc.cached("reply", kind="prompt", version=1) is not None
            and hc.cached("reply", kind="prompt", version=1).content[0]["content"]
            == "Be warm. Sign as {{ agent }}.")
        assert await _until(lambda: not hc._tasks)
        assert hc.stats.requests > requests  # refetched because of the event
        now = await hc.resolve("helpdesk")
        assert now.source == "memory" and now.references[0]["version"] == 1


async def test_each_variant_of_a_split_environment_is_expanded(client):
    tone, reply = await _tone_and_reply(client)
    r = await client.post(f"/prompts/{reply['id']}/versions", json={"content": [
        {"role": "system", "content": ref("support-tone@1") + " v2 {{ agent }}"},
        {"role": "user", "content": "{{ question }}"}]})
    assert r.status_code == 201, r.text
    r = await client.put(f"/prompts/{reply['id']}/environments/production/split", json={
        "variants": [{"version": 1, "weight": 50}, {"version": 2, "weight": 50}]})
    assert r.status_code == 200, r.text
    app = await _app(client, "helpdesk", reply["id"])
    resolved = (await client.get(f"/applications/{app['id']}/resolved")).json()
    by_version = {v["version"]: v for v in resolved["split"]["variants"]}
    assert by_version[1]["content"][0]["content"] == "Be brief. Sign as {{ agent }}."
    assert by_version[2]["content"][0]["content"] == "Be warm. v2 {{ agent }}"
    assert [(x["version"], x["environment"]) for x in by_version[1]["references"]] == [
        (2, "staging")]
    assert [(x["version"], x["environment"]) for x in by_version[2]["references"]] == [
        (1, None)]
    # a key's answer carries its variant's expansion and references
    seen = set()
    for key in (f"user-{i}" for i in range(40)):
        picked = (await client.get(f"/applications/{app['id']}/resolved",
                                   params={"key": key})).json()
        variant = by_version[picked["version"]]
        assert picked["content"] == variant["content"]
        assert picked["references"] == variant["references"]
        seen.add(picked["version"])
    assert seen == {1, 2}


async def test_a_webhook_on_the_dependent_prompt_receives_the_reference_move(client, setenv):
    from harness.webhooks import SIGNATURE_HEADER, verify
    from tests.support.http_receiver import HttpReceiver

    setenv("HARNESS_WEBHOOK_BACKOFF_S", "0.01")
    setenv("HARNESS_WEBHOOK_POLL_S", "0.05")
    setenv("HARNESS_WEBHOOK_ALLOWED_NETWORKS", "127.0.0.0/8")
    tone, reply = await _tone_and_reply(client)
    secret = "whsec_composition-0123456789"
    with HttpReceiver() as rx:
        r = await client.post("/webhooks", json={
            "url": rx.url, "event_types": ["PromptReferenceMoved"], "secret": secret,
            "prompt_id": reply["id"]})
        assert r.status_code == 201, r.text
        await _move(client, tone["id"], "staging", 1)
        await rx.wait_for(1, timeout_s=60)
        (req,) = rx.ok()
        verify(secret, req.headers[SIGNATURE_HEADER.lower()], req.body)
        doc = req.json()
    assert doc["type"] == "PromptReferenceMoved" and doc["stream_id"] == f"prompt-{reply['id']}"
    assert (doc["data"]["referenced_prompt_id"], doc["data"]["environment"],
            doc["data"]["version"]) == (tone["id"], "staging", 1)
