"""Weighted rollout over HTTP on real Postgres: an environment split between versions by
weight, started and ended through governance, answered per stickiness key by
``resolved?key=``, the client SDK and the gateway's ``app/<name>`` (headers, trace, usage
per variant)."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime

import httpx

from harness import rollout
from harness.client import AsyncHarnessClient
from services.registry.app import create_app
from tests.support.runs import wait_run

NINETY_TEN = [{"version": 1, "weight": 90}, {"version": 2, "weight": 10}]


def alice(**h):
    return {"X-Actor": "alice", **h}


def bob(**h):
    return {"X-Actor": "bob", **h}


async def prompt_and_app(c, name="rollout", contents=("v1 {{ x }}", "v2 {{ x }}"), **app):
    r = await c.post("/prompts", json={"name": name + "-prompt", "content": contents[0]})
    assert r.status_code == 201, r.text
    pid = r.json()["id"]
    for content in contents[1:]:
        r = await c.post(f"/prompts/{pid}/versions", json={"content": content})
        assert r.status_code == 201, r.text
    r = await c.post("/applications", json={"name": name, "model_id": "echo",
                                            "prompt_id": pid, **app})
    assert r.status_code == 201, r.text
    return pid, r.json()["id"]


async def test_split_resolve_per_key_and_promote_the_winner(client):
    pid, app = await prompt_and_app(client)
    before = (await client.get(f"/applications/{app}/resolved")).headers["etag"]
    r = await client.put(f"/prompts/{pid}/environments/production/split", headers=alice(),
                         json={"variants": NINETY_TEN, "reason": "canary v2"})
    assert r.status_code == 200, r.text
    split = r.json()["environments"]["production"]["split"]
    assert [(v["version"], v["share"]) for v in split["variants"]] == [(1, 0.9), (2, 0.1)]
    assert (split["sticky_by"], split["started_by"], split["reason"]) == (
        "user", "alice", "canary v2")
    assert r.json()["environments"]["production"]["version"] == 1

    # without a key: the environment's version, and the variants a client can pick from
    plain = await client.get(f"/applications/{app}/resolved")
    body = plain.json()
    assert (body["version"], body["content"]) == (1, "v1 {{ x }}") and "variant" not in body
    assert [(v["version"], v["content"]) for v in body["split"]["variants"]] == [
        (1, "v1 {{ x }}"), (2, "v2 {{ x }}")]
    assert plain.headers["etag"] != before  # the cached answer did not outlive the split

    # with a key: always the same variant, the one harness.rollout picks
    got: dict[str, int] = {}
    etags: dict[int, set[str]] = {1: set(), 2: set()}
    for i in range(400):
        r = await client.get(f"/applications/{app}/resolved", params={"key": f"user-{i}"})
        assert r.status_code == 200, r.text
        b = r.json()
        expected = rollout.pick(NINETY_TEN, pid, "production", f"user-{i}")["version"]
        assert b["version"] == b["variant"]["version"] == expected
        assert b["content"] == f"v{expected} {{{{ x }}}}"
        got[f"user-{i}"] = b["version"]
        etags[expected].add(r.headers["etag"])
    counts = Counter(got.values())
    assert counts[1] > counts[2] > 0
    assert all(len(tags) == 1 for tags in etags.values())  # same variant, same answer
    for k in list(got)[:50]:
        r = await client.get(f"/applications/{app}/resolved", params={"key": k})
        assert r.json()["version"] == got[k]
        again = await client.get(f"/applications/{app}/resolved", params={"key": k},
                                 headers={"If-None-Match": r.headers["etag"]})
        assert again.status_code == 304
    # one key's cached answer never reaches another
    one_of_each = {v: next(k for k in got if got[k] == v) for v in (1, 2)}
    for _ in range(3):
        for v, k in one_of_each.items():
            r = await client.get(f"/applications/{app}/resolved", params={"key": k})
            assert r.json()["version"] == v

    # promoting the winner ends the split: every key gets v2
    r = await client.put(f"/prompts/{pid}/environments/production",
                         json={"version": 2, "reason": "v2 won"})
    assert r.status_code == 200, r.text
    assert r.json()["environments"]["production"] == {
        **r.json()["environments"]["production"], "version": 2, "split": None}
    for k in list(got)[:20]:
        b = (await client.get(f"/applications/{app}/resolved", params={"key": k})).json()
        assert b["version"] == 2 and "split" not in b and "variant" not in b
    types = [h["type"] for h in (await client.get(f"/prompts/{pid}/history")).json()["items"]]
    assert {"PromptEnvironmentSplit", "PromptEnvironmentSplitEnded"} <= set(types)


async def test_bad_splits_are_422_naming_the_field_and_nothing_is_written(client):
    pid, _ = await prompt_and_app(client, "bad-split")
    url = f"/prompts/{pid}/environments/production/split"
    cases = [
        ({"variants": [{"version": 1, "weight": 90}, {"version": 2, "weight": 20}]},
         "variants"),
        ({"variants": [{"version": 1, "weight": 90}, {"version": 9, "weight": 10}]},
         "variants[1].version"),
        ({"variants": [{"version": 2, "weight": 50}, {"version": 2, "weight": 50}]},
         "variants[1].version"),
        ({"variants": NINETY_TEN, "sticky_by": "cookie"}, "sticky_by"),
    ]
    for body, field in cases:
        r = await client.put(url, json=body)
        assert r.status_code == 422, (body, r.text)
        assert r.json()["field"] == field, r.json()
    for body, where in [({"variants": [{"version": 1, "weight": 100}]}, "variants"),
                        ({"variants": [{"version": 1, "weight": -5},
                                       {"version": 2, "weight": 105}]}, "weight"),
                        ({"variants": NINETY_TEN, "weights": [1]}, "weights")]:
        r = await client.put(url, json=body)
        assert r.status_code == 422 and where in r.text, r.text
    r = await client.put(f"/prompts/{pid}/environments/staging/split",
                         json={"variants": NINETY_TEN})
    assert r.status_code == 422 and r.json()["field"] == "environment"
    r = await client.post(f"/prompts/{pid}/promotions", json={})
    assert r.status_code == 422 and r.json()["field"] == "version"
    r = await client.post(f"/prompts/{pid}/promotions",
                          json={"version": 2, "split": {"variants": NINETY_TEN}})
    assert r.status_code == 422 and r.json()["field"] == "split"
    envs = (await client.get(f"/prompts/{pid}/environments")).json()["environments"]
    assert envs["production"]["split"] is None
    types = [h["type"] for h in (await client.get(f"/prompts/{pid}/history")).json()["items"]]
    assert "PromptEnvironmentSplit" not in types and "PromotionProposed" not in types


async def test_a_governed_split_starts_and_ends_through_approved_proposals(client):
    pid, app = await prompt_and_app(client, "governed", ("v1", "v2", "v3"))
    await client.put(f"/prompts/{pid}/policy", json={"require_approval": True})
    three_way = [{"version": 1, "weight": 80}, {"version": 2, "weight": 10},
                 {"version": 3, "weight": 10}]
    r = await client.put(f"/prompts/{pid}/environments/production/split",
                         json={"variants": three_way})
    assert r.status_code == 409 and r.json()["type"] == "urn:harness:problem:policy-violation"
    r = await client.post(f"/prompts/{pid}/promotions", headers=alice(),
                          json={"split": {"variants": three_way, "sticky_by": "metadata.org"},
                                "reason": "try v2 and v3"})
    assert r.status_code == 201, r.text
    prop = r.json()
    assert prop["status"] == "pending" and prop["version"] == 3
    assert prop["split"] == {"variants": [{"version": 1, "weight": 80.0},
                                          {"version": 2, "weight": 10.0},
                                          {"version": 3, "weight": 10.0}],
                             "sticky_by": "metadata.org"}
    pending = (await client.get("/promotions")).json()["items"]
    assert [p["split"]["sticky_by"] for p in pending if p["id"] == prop["id"]] == [
        "metadata.org"]
    assert "split" not in (await client.get(f"/applications/{app}/resolved")).json()
    r = await client.post(f"/prompts/{pid}/promotions/{prop['id']}/approve", headers=bob())
    assert r.status_code == 200 and r.json()["status"] == "applied", r.text
    envs = (await client.get(f"/prompts/{pid}/environments")).json()["environments"]
    assert envs["production"]["split"]["promotion_id"] == prop["id"]
    assert envs["production"]["split"]["sticky_by"] == "metadata.org"
    body = (await client.get(f"/applications/{app}/resolved", params={"key": "org-7"})).json()
    assert body["version"] == rollout.pick(three_way, pid, "production", "org-7")["version"]

    # ending it is a move like any other: refused directly, applied once approved
    r = await client.delete(f"/prompts/{pid}/environments/production/split")
    assert r.status_code == 409
    r = await client.put(f"/prompts/{pid}/versions/1/activate", json={})
    assert r.status_code == 409
    end = (await client.post(f"/prompts/{pid}/promotions", headers=alice(),
                             json={"version": 3, "reason": "v3 won"})).json()
    r = await client.post(f"/prompts/{pid}/promotions/{end['id']}/approve", headers=bob())
    assert r.json()["status"] == "applied", r.text
    envs = (await client.get(f"/prompts/{pid}/environments")).json()["environments"]
    assert envs["production"]["version"] == 3 and envs["production"]["split"] is None
    body = (await client.get(f"/applications/{app}/resolved", params={"key": "org-7"})).json()
    assert body["version"] == 3 and "split" not in body


async def test_an_ungoverned_split_ends_back_to_the_version_in_place(client):
    pid, _ = await prompt_and_app(client, "staged-prod", ("v1", "v2", "v3"))
    r = await client.put(f"/prompts/{pid}/environments/staging", json={"version": 2})
    assert r.status_code == 200, r.text
    r = await client.post("/applications", json={"name": "staged", "model_id": "echo",
                                                 "prompt_id": pid, "environment": "staging"})
    assert r.status_code == 201, r.text
    app = r.json()["id"]
    variants = [{"version": 2, "weight": 0.5}, {"version": 3, "weight": 0.5}]
    r = await client.put(f"/prompts/{pid}/environments/staging/split",
                         json={"variants": variants})
    assert r.status_code == 200, r.text
    assert r.json()["environments"]["production"]["split"] is None
    picked = {(await client.get(f"/applications/{app}/resolved",
                                params={"key": f"k{i}"})).json()["version"]
              for i in range(40)}
    assert picked == {2, 3}
    await asyncio.sleep(0.05)
    at = datetime.now(UTC)
    await asyncio.sleep(0.05)
    r = await client.delete(f"/prompts/{pid}/environments/staging/split",
                            params={"reason": "too noisy"})
    assert r.status_code == 200 and r.json()["environments"]["staging"]["split"] is None
    assert {(await client.get(f"/applications/{app}/resolved",
                              params={"key": f"k{i}"})).json()["version"]
            for i in range(40)} == {2}
    # what a key got back then, folded from the events
    then = (await client.get(f"/applications/{app}/resolved",
                             params={"as_of": at.isoformat(), "key": "k1"})).json()
    assert then["version"] == rollout.pick(variants, pid, "staging", "k1")["version"]
    assert then["split"]["sticky_by"] == "user"


async def test_the_sdk_picks_the_same_variant_locally(runtime, client):
    pid, app = await prompt_and_app(client, "sdk-split")
    await client.put(f"/prompts/{pid}/environments/production/split",
                     json={"variants": [{"version": 1, "weight": 50},
                                        {"version": 2, "weight": 50}]})
    async with AsyncHarnessClient("http://registry", refresh="none", ttl_s=60,
                                  transport=httpx.ASGITransport(
                                      app=create_app(runtime=runtime))) as hc:
        seen = set()
        for i in range(60):
            mine = await hc.resolve("sdk-split", key=f"user-{i}")
            theirs = (await client.get(f"/applications/{app}/resolved",
                                       params={"key": f"user-{i}"})).json()
            assert (mine.version, mine.content) == (theirs["version"], theirs["content"])
            assert mine.variant["version"] == mine.version
            assert mine.render(x="a")[0]["content"] == f"v{mine.version} a"
            seen.add(mine.version)
        assert seen == {1, 2}
        keyless = await hc.resolve("sdk-split")
        assert keyless.version == 1 and keyless.variant is None and keyless.split


# ---- the gateway ---------------------------------------------------------------------------

async def test_gateway_picks_the_variant_by_the_request_key(gw, stub):
    stub.reply("primary", lambda body: body["messages"][0]["content"])
    key = await gw.key(applications=["bot"])
    written = []  # what the trace writer hands on: the traces as exported (spans)

    async def keep(batch):
        written.extend(batch)

    gw.gateway.traces.listeners.append(keep)
    async with gw.http() as h:
        pid, _ = await prompt_and_app(h, "bot", ("one {{ x }}", "two {{ x }}"),
                                      model_id="openai/primary")
        r = await h.put(f"/prompts/{pid}/environments/production/split",
                        json={"variants": NINETY_TEN})
        assert r.status_code == 200, r.text
        auth = {"Authorization": f"Bearer {key}"}

        async def chat(**extra):
            r = await h.post("/v1/chat/completions", headers=auth, json={
                "model": "app/bot", "messages": [{"role": "user", "content": "hi"}],
                "variables": {"x": "y"}, **extra})
            assert r.status_code == 200, r.text
            return r

        answers = {}
        for i in range(30):
            r = await chat(user=f"user-{i}")
            expected = rollout.pick(NINETY_TEN, pid, "production", f"user-{i}")["version"]
            assert r.headers["x-harness-prompt-version"] == str(expected)
            assert r.headers["x-harness-variant"] == f"v{expected}"
            word = {1: "one", 2: "two"}[expected]
            assert r.json()["choices"][0]["message"]["content"] == f"{word} y"
            answers[r.headers["x-harness-trace-id"]] = expected
        # the same user again: the same variant
        again = await chat(user="user-3")
        assert again.headers["x-harness-prompt-version"] == str(
            rollout.pick(NINETY_TEN, pid, "production", "user-3")["version"])
        # no key: the environment's version, no variant
        plain = await chat()
        assert plain.headers["x-harness-prompt-version"] == "1"
        assert "x-harness-variant" not in plain.headers
        await gw.gateway.traces.flush()
        rows = await gw.pool.fetch(
            "SELECT id::text, prompt_version, request FROM gateway_traces "
            "WHERE application = 'bot'")
        by_id = {r["id"]: r for r in rows}
        for trace_id, expected in answers.items():
            row = by_id[trace_id]
            assert row["prompt_version"] == expected
            variant = row["request"]["variant"]
            assert (variant["version"], variant["environment"], variant["sticky_by"]) == (
                expected, "production", "user")
        assert "variant" not in by_id[plain.headers["x-harness-trace-id"]]["request"]
        spans = {str(t.id): t.variant for t in written}  # the span's harness.variant
        assert all(spans[trace_id] == f"v{v}" for trace_id, v in answers.items())
        assert spans[plain.headers["x-harness-trace-id"]] is None
        first = next(iter(answers))
        trace = (await h.get(f"/traces/{first}")).json()
        assert trace["prompt_version"] == answers[first]

        # usage per variant: the requests each version served
        served = Counter([*answers.values(), int(again.headers["x-harness-prompt-version"]),
                          1])
        u = (await h.get("/metrics/usage", params={"group_by": "version"})).json()
        per_version: Counter[str] = Counter()
        for item in u["items"]:  # one item per hour and version
            if (item["version"] or "").startswith("bot v"):
                per_version[item["version"]] += item["requests"]
        assert per_version == {f"bot v{v}": n for v, n in served.items()}

        # scores per variant: each trace scored (as a person or an online evaluator would)
        r = await h.post("/score-configs", json={"name": "helpful", "data_type": "numeric",
                                                 "min_value": 0, "max_value": 1})
        assert r.status_code == 201, r.text
        for trace_id, version in answers.items():
            r = await h.post(f"/traces/{trace_id}/scores",
                             json={"name": "helpful", "value": 1.0 if version == 2 else 0.25})
            assert r.status_code == 201, r.text
        u = (await h.get("/metrics/usage", params={"group_by": "version"})).json()
        means: dict[int, list[float]] = {}
        for item in u["scores"]:
            if item["prompt_id"] == pid and item["name"] == "helpful":
                means.setdefault(item["prompt_version"], []).append(item["mean"])
        assert {v: set(m) for v, m in means.items()} == {
            v: {1.0 if v == 2 else 0.25} for v in set(answers.values())}

        # a key from a header; ending the split by promoting v2
        r = await h.put(f"/prompts/{pid}/environments/production/split",
                        json={"variants": [{"version": 1, "weight": 50},
                                           {"version": 2, "weight": 50}],
                              "sticky_by": "header:x-end-user"})
        assert r.status_code == 200, r.text
        for i in range(10):
            r = await h.post("/v1/chat/completions",
                             headers={**auth, "X-End-User": f"h{i}"},
                             json={"model": "app/bot", "variables": {"x": "z"},
                                   "messages": [{"role": "user", "content": "hi"}]})
            expected = rollout.pick([{"version": 1, "weight": 50},
                                     {"version": 2, "weight": 50}], pid, "production",
                                    f"h{i}")["version"]
            assert r.headers["x-harness-variant"] == f"v{expected}"
        await h.put(f"/prompts/{pid}/versions/2/activate", json={"reason": "v2 won"})
        r = await chat(user="user-0")
        assert r.headers["x-harness-prompt-version"] == "2"
        assert "x-harness-variant" not in r.headers


async def test_a_gate_needs_evidence_for_each_new_variant(client):
    pid, _ = await prompt_and_app(client, "gated", ("v1", "v2", "v3"))
    gold = (await client.post("/datasets", json={"name": "gold-split",
                                                 "dataset_type": "golden"})).json()
    await client.post(f"/datasets/{gold['id']}/cases", json={"cases": [
        {"input": {"q": "x"}, "assert": [{"type": "contains", "value": "v"}]}]})
    r = await client.post(f"/datasets/{gold['id']}/verify", json={"note": "checked"})
    assert r.status_code == 200, r.text
    r = await client.put(f"/prompts/{pid}/policy", json={"gate": {"dataset_id": gold["id"]}})
    assert r.status_code == 200, r.text
    r = await client.put(f"/prompts/{pid}/environments/production/split", json={
        "variants": [{"version": 1, "weight": 80}, {"version": 2, "weight": 10},
                     {"version": 3, "weight": 10}]})
    assert r.status_code == 409 and r.json()["type"] == "urn:harness:problem:gate-failed"
    gate = r.json()["gate"]
    # the version in place (v1) needs no evidence; each new variant does
    assert [e["version"] for e in gate["variants"]] == [2, 3]
    assert not gate["passed"] and all("no completed run" in x for x in gate["reasons"])
    assert (await client.get(f"/prompts/{pid}/environments")).json()[
        "environments"]["production"]["split"] is None


async def test_a_split_proposal_with_run_gate_runs_every_variant_and_applies(stack_client):
    c = stack_client
    cities = ["Paris", "Rome", "Oslo", "Lima"]
    pid, app = await prompt_and_app(c, "gated-run", ("The capital is {{ city }}.",
                                                    "Capital: {{ city }}",
                                                    "Capital = {{ city }}"))
    gold = (await c.post("/datasets", json={"name": "capitals-split",
                                            "dataset_type": "golden"})).json()
    await c.post(f"/datasets/{gold['id']}/cases", json={"cases": [
        {"input": {"city": x}, "assert": [{"type": "contains", "value": x}]} for x in cities]})
    await c.post(f"/datasets/{gold['id']}/verify", json={"note": "checked"})
    await c.put(f"/prompts/{pid}/policy", json={"gate": {"dataset_id": gold["id"]}})
    variants = [{"version": 1, "weight": 50}, {"version": 2, "weight": 25},
                {"version": 3, "weight": 25}]
    r = await c.post(f"/prompts/{pid}/promotions", headers=alice(), json={
        "split": {"variants": variants}, "run_gate": {"model": "echo"}})
    assert r.status_code == 201, r.text
    prop = r.json()
    # pending until its gate run completes (or applied at once, when the run on echo
    # completed before the proposal was decided)
    assert prop["status"] in ("pending", "applied") and prop["gate_run_id"]
    run = await wait_run(c, prop["gate_run_id"])
    assert sorted(t["prompt_version"] for t in run["targets"]) == [1, 2, 3]
    for _ in range(1200):  # hang guard (60 s): the gate watcher applies it
        got = (await c.get(f"/prompts/{pid}/promotions/{prop['id']}")).json()
        if got["status"] != "pending":
            break
        await asyncio.sleep(0.05)
    assert got["status"] == "applied", got
    assert got["gate"]["passed"] and [e["version"] for e in got["gate"]["variants"]] == [2, 3]
    envs = (await c.get(f"/prompts/{pid}/environments")).json()["environments"]
    assert [v["version"] for v in envs["production"]["split"]["variants"]] == [1, 2, 3]
    body = (await c.get(f"/applications/{app}/resolved", params={"key": "u-1"})).json()
    assert body["version"] == rollout.pick(variants, pid, "production", "u-1")["version"]


async def test_a_failing_variant_says_which_version_and_variant_it_was(gw, stub):
    """A canary whose own config fails (its model answers 500) is refused with the prompt
    version, the variant and the trace id in the headers, like a success: a prompt engineer
    sees that the 10 % failing are v2's, and finds the failed call's trace."""
    stub.reply("primary", lambda body: "fine")
    stub.fail_next(500, times=50, model="canary")
    key = await gw.key(applications=["canary-bot"])
    async with gw.http() as h:
        r = await h.post("/prompts", json={"name": "canary-prompt", "content": "one {{ x }}",
                                           "config": {"model": "openai/primary"}})
        assert r.status_code == 201, r.text
        pid = r.json()["id"]
        r = await h.post(f"/prompts/{pid}/versions", json={
            "content": "two {{ x }}", "config": {"model": "openai/canary"}})
        assert r.status_code == 201, r.text
        r = await h.post("/applications", json={"name": "canary-bot", "prompt_id": pid})
        assert r.status_code == 201, r.text
        r = await h.put(f"/prompts/{pid}/environments/production/split",
                        json={"variants": NINETY_TEN})
        assert r.status_code == 200, r.text
        users = {rollout.pick(NINETY_TEN, pid, "production", f"u{i}")["version"]: f"u{i}"
                 for i in range(200)}
        auth = {"Authorization": f"Bearer {key}"}
        answers = {}
        for version, user in sorted(users.items()):
            answers[version] = await h.post("/v1/chat/completions", headers=auth, json={
                "model": "app/canary-bot", "user": user, "variables": {"x": "y"},
                "messages": [{"role": "user", "content": "hi"}]})
        ok, failed = answers[1], answers[2]
        assert ok.status_code == 200, ok.text
        assert failed.status_code >= 500, failed.text
        assert failed.json()["error"]["message"]  # the OpenAI envelope, as before
        assert failed.headers["x-harness-prompt-version"] == "2"
        assert failed.headers["x-harness-variant"] == "v2"
        await gw.gateway.traces.flush()
        trace = (await h.get(f"/traces/{failed.headers['x-harness-trace-id']}")).json()
        assert (trace["prompt_version"], trace["status"], trace["model_requested"]) == (
            2, failed.status_code, "app/canary-bot")
        assert trace["request"]["variant"]["version"] == 2

        # refused before any call (over the key's rate): the version and variant still show
        slow = {"Authorization": "Bearer " + await gw.key(
            "slow", rpm=1, applications=["canary-bot"])}
        body = {"model": "app/canary-bot", "user": users[1], "variables": {"x": "y"},
                "messages": [{"role": "user", "content": "hi"}]}
        assert (await h.post("/v1/chat/completions", headers=slow, json=body)).status_code \
            == 200
        limited = await h.post("/v1/chat/completions", headers=slow, json=body)
        assert limited.status_code == 429, limited.text
        assert limited.headers["retry-after"]
        assert (limited.headers["x-harness-prompt-version"],
                limited.headers["x-harness-variant"]) == ("1", "v1")
        assert "x-harness-trace-id" not in limited.headers  # nothing was called
