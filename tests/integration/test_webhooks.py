"""Signed webhooks over HTTP on real Postgres, with a local receiver (issue 18 item 6):
signatures verify with the secret, retries after 500s, order per prompt, disabling after
repeated failures, the delivery log, redelivery after a restart, the SSRF guard, and the
secret never leaving the server."""

from __future__ import annotations

import asyncio
from collections import defaultdict

import httpx
import pytest

from harness import apikeys
from harness.eventstore.subscription import save_checkpoint
from harness.webhooks import SIGNATURE_HEADER, verify
from services.registry.app import create_app
from services.registry.runtime import Runtime
from tests.integration.test_prompts_api import is_problem
from tests.support.http_receiver import HttpReceiver

SECRET = "whsec_test-secret-0123456789"
PROMPT_EVENTS = ["PromptCreated", "PromptVersionCreated", "PromptVersionActivated"]


@pytest.fixture
def fast(setenv):
    """Tiny waits between attempts (counts, not times, are asserted)."""
    setenv("HARNESS_WEBHOOK_BACKOFF_S", "0.01")
    setenv("HARNESS_WEBHOOK_BACKOFF_MAX_S", "0.02")
    setenv("HARNESS_WEBHOOK_POLL_S", "0.05")
    setenv("HARNESS_WEBHOOK_ALLOWED_NETWORKS", "127.0.0.0/8")


@pytest.fixture
def rx():
    with HttpReceiver() as receiver:
        yield receiver


async def subscribe(client, url: str, **kw) -> dict:
    r = await client.post("/webhooks", json={"url": url, "event_types": PROMPT_EVENTS,
                                             "secret": SECRET, **kw})
    assert r.status_code == 201, r.text
    return r.json()


async def prompt_with_versions(client, name: str, versions: int) -> str:
    r = await client.post("/prompts", json={"name": name, "content": "v1 {{ x }}"})
    assert r.status_code == 201, r.text
    pid = r.json()["id"]
    for n in range(2, versions + 1):
        r = await client.post(f"/prompts/{pid}/versions",
                              json={"content": f"v{n} {{{{ x }}}}", "activate": True})
        assert r.status_code == 201, r.text
    return pid


async def until(check, what: str, timeout_s: float = 60.0):
    """Wait (a hang guard, not a measurement) until ``await check()`` is truthy."""
    async def poll():
        while not (result := await check()):
            await asyncio.sleep(0.02)
        return result
    try:
        return await asyncio.wait_for(poll(), timeout_s)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


async def settled(client, webhook_id: str) -> None:
    """Until every delivery of the webhook is recorded as made (the receiver answers
    before the deliverer records it)."""
    async def done():
        return (await client.get(f"/webhooks/{webhook_id}")).json()["pending"] == 0
    await until(done, "the deliveries to be recorded")


async def test_deliveries_are_signed_events_in_order_and_the_secret_stays_inside(
        client, runtime, rx, fast, capsys):
    hook = await subscribe(client, rx.url + "/hook", description="ci")
    assert "secret" not in hook or hook["secret"] is None  # given, so not echoed
    pid = await prompt_with_versions(client, "greet", 3)
    # PromptCreated, 3 x PromptVersionCreated, 3 x PromptVersionActivated
    await rx.wait_for(7, timeout_s=20)
    docs = []
    for req in rx.ok():
        assert req.path == "/hook"
        assert req.headers["content-type"] == "application/json"
        verify(SECRET, req.headers[SIGNATURE_HEADER.lower()], req.body)
        doc = req.json()
        assert req.headers["x-harness-event"] == doc["type"]
        assert req.headers["x-harness-event-id"] == doc["event_id"]
        assert doc["webhook_id"] == hook["id"] and doc["stream_id"] == f"prompt-{pid}"
        docs.append(doc)
    assert [d["stream_version"] for d in docs] == sorted(d["stream_version"] for d in docs)
    assert [d["type"] for d in docs][:3] == ["PromptCreated", "PromptVersionCreated",
                                             "PromptVersionActivated"]
    assert docs[-1]["data"]["version"] == 3

    await settled(client, hook["id"])
    log = (await client.get(f"/webhooks/{hook['id']}/deliveries")).json()
    assert log["total"] == 7 and {d["status"] for d in log["items"]} == {"delivered"}
    assert all(len(d["history"]) == 1 and d["history"][0]["status_code"] == 200
               for d in log["items"])
    assert [d["global_position"] for d in log["items"]] == sorted(
        (d["global_position"] for d in log["items"]), reverse=True)

    # the secret is nowhere but webhook_secrets: not in answers, events, read models, logs
    got = (await client.get(f"/webhooks/{hook['id']}")).text
    listed = (await client.get("/webhooks")).text
    events = (await client.get("/events")).text
    assert SECRET not in got + listed + events
    pool = runtime.pool
    assert await pool.fetchval("SELECT count(*) FROM events WHERE data::text LIKE $1",
                               f"%{SECRET}%") == 0
    assert await pool.fetchval("SELECT count(*) FROM webhooks w WHERE w::text LIKE $1",
                               f"%{SECRET}%") == 0
    assert await pool.fetchval("SELECT secret FROM webhook_secrets") == SECRET
    assert SECRET not in capsys.readouterr().out


async def test_a_made_secret_is_shown_once(client, rx, fast):
    r = await client.post("/webhooks", json={"url": rx.url, "event_types": ["*"]})
    assert r.status_code == 201, r.text
    made = r.json()["secret"]
    assert made.startswith("whsec_") and len(made) > 30
    assert "secret" not in (await client.get(f"/webhooks/{r.json()['id']}")).json()


async def test_retries_after_500s_then_success_with_the_attempts_logged(client, rx, fast):
    hook = await subscribe(client, rx.url, event_types=["PromptCreated"])
    rx.fail_next(2, 500)
    await client.post("/prompts", json={"name": "p", "content": "x"})
    await rx.wait_for(1)
    assert [r.status for r in rx.requests] == [500, 500, 200]
    bodies = {r.body for r in rx.requests}
    assert len(bodies) == 1  # a retry posts the same body, signed anew
    for r in rx.requests:
        verify(SECRET, r.headers[SIGNATURE_HEADER.lower()], r.body)
    await settled(client, hook["id"])
    [delivery] = (await client.get(f"/webhooks/{hook['id']}/deliveries")).json()["items"]
    assert delivery["status"] == "delivered" and delivery["attempts"] == 3
    assert [a["status_code"] for a in delivery["history"]] == [500, 500, 200]
    assert "answered 500" in delivery["history"][0]["error"]
    assert delivery["event_type"] == "PromptCreated" and delivery["last_error"] is None
    got = (await client.get(f"/webhooks/{hook['id']}")).json()
    assert got["consecutive_failures"] == 0 and got["pending"] == 0
    assert got["last_success_at"] and got["last_failure_at"]


async def test_each_prompts_events_arrive_in_order_while_some_are_retried(client, rx, fast):
    await subscribe(client, rx.url)
    rx.fail_next(5, 503)
    await asyncio.gather(*(prompt_with_versions(client, f"p{i}", 4) for i in range(3)))
    await rx.wait_for(3 * 9)  # each: created, v1 created + activated, 3 more of those
    seen: dict[str, list[int]] = defaultdict(list)
    for r in rx.requests:  # failed attempts included: none overtakes an earlier event
        doc = r.json()
        seen[doc["stream_id"]].append(doc["stream_version"])
    assert len(seen) == 3
    for versions in seen.values():
        assert versions == sorted(versions)
        assert sorted(set(versions)) == list(range(1, 10))
    assert sum(r.status == 503 for r in rx.requests) == 5


async def test_disabled_after_repeated_failures_then_enabled_resumes_in_order(
        client, rx, fast, setenv):
    setenv("HARNESS_WEBHOOK_MAX_FAILURES", "3")
    hook = await subscribe(client, rx.url)
    rx.fail_next(3, 500)
    await prompt_with_versions(client, "p", 2)

    async def disabled_all_queued():
        # the fan-out queues deliveries on its own loop: the last of p's events may be
        # queued after the webhook is disabled (queuing goes on while it is)
        got = (await client.get(f"/webhooks/{hook['id']}")).json()
        return got if not got["enabled"] and got["pending"] == 5 else None  # p's 5 events

    got = await until(disabled_all_queued, "the webhook to be disabled, p's events queued")
    assert got["disabled_automatically"] and "3 failed" in got["disabled_reason"]
    assert got["consecutive_failures"] == 3
    assert len(rx.requests) == 3  # nothing more is tried while disabled
    events = (await client.get("/events")).json()["items"]
    [off] = [e for e in events if e["type"] == "WebhookDisabled"]
    assert off["data"]["automatic"] and off["data"]["failures"] == 3
    assert off["metadata"]["actor"] == "webhook-deliverer"

    await client.post("/prompts", json={"name": "later", "content": "x"})  # still queued
    r = await client.post(f"/webhooks/{hook['id']}/enable")
    assert r.status_code == 200 and r.json()["enabled"]
    assert r.json()["consecutive_failures"] == 0
    await rx.wait_for(5 + 3)
    first = rx.requests[0].json()["stream_id"]
    assert [r.json()["stream_version"] for r in rx.requests[:3]] == [1, 1, 1]
    assert [r.json()["stream_version"] for r in rx.ok()
            if r.json()["stream_id"] == first] == [1, 2, 3, 4, 5]
    assert [r.json()["type"] for r in rx.ok() if r.json()["stream_id"] != first] == [
        "PromptCreated", "PromptVersionCreated", "PromptVersionActivated"]


async def test_user_disable_pauses_and_delete_forgets(client, runtime, rx, fast):
    hook = await subscribe(client, rx.url)
    r = await client.post(f"/webhooks/{hook['id']}/disable", json={"reason": "maintenance"})
    assert r.status_code == 200
    assert (r.json()["enabled"], r.json()["disabled_reason"]) == (False, "maintenance")
    await client.post("/prompts", json={"name": "p", "content": "x"})

    async def queued():
        return (await client.get(f"/webhooks/{hook['id']}")).json()["pending"] == 3

    await until(queued, "deliveries queued while disabled")
    assert rx.requests == []
    assert (await client.delete(f"/webhooks/{hook['id']}")).status_code == 204
    is_problem(await client.get(f"/webhooks/{hook['id']}"), 404, "not-found")
    is_problem(await client.get(f"/webhooks/{hook['id']}/deliveries"), 404, "not-found")
    is_problem(await client.delete(f"/webhooks/{hook['id']}"), 404, "not-found")
    for table in ("webhook_secrets", "webhook_deliveries", "webhook_health"):
        assert await runtime.pool.fetchval(f"SELECT count(*) FROM {table}") == 0


async def test_filters_by_prompt_and_by_application(client, rx, fast):
    keep = await prompt_with_versions(client, "keep", 1)
    other = await prompt_with_versions(client, "other", 1)
    r = await client.post("/applications", json={"name": "bot", "model_id": "echo",
                                                 "prompt_id": keep})
    app_id = r.json()["id"]
    by_prompt = await subscribe(client, rx.url + "/prompt", prompt_id=keep)
    by_app = await subscribe(client, rx.url + "/app", application_id=app_id,
                             event_types=["*"])
    for pid in (keep, other):
        await client.post(f"/prompts/{pid}/versions", json={"content": "v2", "activate": True})
    await client.patch(f"/applications/{app_id}", json={"temperature": 0.1})
    await rx.wait_for(2 + 3)
    by_path = defaultdict(list)
    for r in rx.ok():
        by_path[r.path].append((r.json()["type"], r.json()["stream_id"]))
    assert by_path["/prompt"] == [("PromptVersionCreated", f"prompt-{keep}"),
                                  ("PromptVersionActivated", f"prompt-{keep}")]
    assert sorted(by_path["/app"]) == sorted([
        ("PromptVersionCreated", f"prompt-{keep}"), ("PromptVersionActivated", f"prompt-{keep}"),
        ("ApplicationUpdated", f"application-{app_id}")])
    assert {by_prompt["prompt_id"], by_app["application_id"]} == {keep, app_id}
    body = is_problem(await client.post("/webhooks", json={
        "url": rx.url, "event_types": ["*"], "prompt_id": "nope"}), 422, "invalid")
    assert body["field"] == "prompt_id"


async def test_urls_the_server_must_not_reach_are_refused(client, rx, fast, setenv):
    for url, why in (("ftp://example.com/x", "http and https"),
                     ("http://user:pw@127.0.0.1/", "credentials")):
        body = is_problem(await client.post("/webhooks", json={
            "url": url, "event_types": ["*"]}), 422, "invalid")
        assert body["field"] == "url" and why in body["detail"]
    body = is_problem(await client.post("/webhooks", json={
        "url": rx.url, "event_types": ["NoSuchEvent"]}), 422, "invalid")
    assert body["field"] == "event_types" and "NoSuchEvent" in body["detail"]
    hook = await subscribe(client, rx.url, event_types=["PromptCreated"])

    setenv("HARNESS_WEBHOOK_ALLOWED_NETWORKS", "")  # a deployed registry: loopback is inside
    for url in (rx.url, rx.url.replace("127.0.0.1", "localhost"), "http://169.254.169.254/",
                "http://[::1]:9/", "http://10.0.0.1/"):
        body = is_problem(await client.post("/webhooks", json={
            "url": url, "event_types": ["*"]}), 422, "invalid")
        assert body["field"] == "url" and "not a public address" in body["detail"], url
    # checked again when delivering: an existing webhook to loopback gets nothing
    await client.post("/prompts", json={"name": "p", "content": "x"})

    async def refused():
        items = (await client.get(f"/webhooks/{hook['id']}/deliveries")).json()["items"]
        return items and items[0]["history"] and items[0]

    delivery = await until(refused, "a refused attempt")
    assert delivery["status"] == "pending"
    assert delivery["history"][0]["status_code"] is None
    assert delivery["history"][0]["error"].startswith("refused:")
    assert rx.requests == []


async def test_only_editors_and_admins_manage_webhooks(client, runtime, rx, fast):
    viewer = await apikeys.create_key(runtime.pool, "vera", "viewer")
    editor = await apikeys.create_key(runtime.pool, "eddie", "editor")
    as_viewer = {"Authorization": f"Bearer {viewer}"}
    body = {"url": rx.url, "event_types": ["*"], "secret": SECRET}
    is_problem(await client.post("/webhooks", json=body, headers=as_viewer), 403, "forbidden")
    is_problem(await client.get("/webhooks", headers=as_viewer), 403, "forbidden")
    r = await client.post("/webhooks", json=body, headers={"Authorization": f"Bearer {editor}"})
    assert r.status_code == 201 and r.json()["created_by"] == "eddie"
    for path in (f"/webhooks/{r.json()['id']}", f"/webhooks/{r.json()['id']}/deliveries"):
        is_problem(await client.get(path, headers=as_viewer), 403, "forbidden")
    is_problem(await client.delete(f"/webhooks/{r.json()['id']}", headers=as_viewer), 403,
               "forbidden")


async def test_a_restart_skips_no_event_and_repeats_none(db_url, artifacts, rx, fast):
    first = await Runtime.start(db_url, artifacts=artifacts)
    first.start_background()
    c = httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(runtime=first)),
                          base_url="http://registry")
    hook = await subscribe(c, rx.url)
    await prompt_with_versions(c, "before", 2)  # 5 events
    await rx.wait_for(5)
    await settled(c, hook["id"])  # (stopped between a POST and its record, the delivery
    await c.aclose()              # would be made again: at least once)
    await first.stop()

    # events recorded while no deliverer runs (a registry without background work)
    quiet = await Runtime.start(db_url, artifacts=artifacts, relay=False)
    c = httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(runtime=quiet)),
                          base_url="http://registry")
    await prompt_with_versions(c, "while-down", 2)
    await c.aclose()
    # as if the fan-out had crashed before saving its checkpoint: it records everything
    # again, which must queue nothing twice
    await save_checkpoint(quiet.pool, "webhook-fanout", 0)
    await quiet.stop()
    assert len(rx.requests) == 5

    second = await Runtime.start(db_url, artifacts=artifacts)
    second.start_background()
    try:
        await rx.wait_for(10)
        await until(lambda: _fanned_out(second), "the fan-out to catch up")
        await until(lambda: _all_delivered(second), "the deliveries to be recorded")
        counts = dict(await second.pool.fetch(
            "SELECT status, count(*) FROM webhook_deliveries GROUP BY status"))
        assert counts == {"delivered": 10}  # nothing queued twice, nothing left to send
        ids = [r.json()["event_id"] for r in rx.requests]
        assert len(ids) == len(set(ids)) == 10
    finally:
        await second.stop()


async def _all_delivered(rt: Runtime) -> bool:
    return not await rt.pool.fetchval(
        "SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'")


async def _fanned_out(rt: Runtime) -> bool:
    head = await rt.store.head_position()
    return rt.webhook_fanout.subscription.position >= head


async def test_a_rebuild_gives_the_same_webhooks_and_keeps_secrets_and_log(client, runtime,
                                                                           rx, fast):
    from services.registry.read.projections.rebuild import rebuild

    hook = await subscribe(client, rx.url, event_types=["PromptCreated"])
    await client.post("/prompts", json={"name": "p", "content": "x"})
    await rx.wait_for(1)
    await settled(client, hook["id"])
    await client.post(f"/webhooks/{hook['id']}/disable", json={"reason": "later"})
    before = (await client.get("/webhooks")).json()
    log = (await client.get(f"/webhooks/{hook['id']}/deliveries")).json()
    await rebuild(runtime.store)
    assert (await client.get("/webhooks")).json() == before
    assert (await client.get(f"/webhooks/{hook['id']}/deliveries")).json() == log
    assert await runtime.pool.fetchval("SELECT secret FROM webhook_secrets") == SECRET
