import asyncio
from datetime import UTC, datetime

import httpx

from harness import apikeys
from services.registry.app import create_app
from tests.support.runs import wait_run


def alice(**h):
    return {"X-Actor": "alice", **h}


def bob(**h):
    return {"X-Actor": "bob", **h}


async def prompt_with_versions(c, *contents, name="p"):
    p = (await c.post("/prompts", json={"name": name, "content": contents[0]})).json()
    for content in contents[1:]:
        r = await c.post(f"/prompts/{p['id']}/versions", json={"content": content})
        assert r.status_code == 201, r.text
    return p["id"]


async def test_environments_move_clear_and_applications_follow_them(client):
    pid = await prompt_with_versions(client, "v1 {{ x }}", "v2 {{ x }}", "v3 {{ x }}")
    r = await client.put(f"/prompts/{pid}/environments/staging",
                         json={"version": 3, "reason": "try it"})
    assert r.status_code == 200, r.text
    envs = r.json()["environments"]
    assert envs["production"]["version"] == 1 and envs["staging"]["version"] == 3
    assert envs["staging"]["set_by"]["reason"] == "try it"
    app = (await client.post("/applications", json={"name": "stg", "model_id": "echo",
                                                    "prompt_id": pid,
                                                    "environment": "staging"})).json()
    res = (await client.get(f"/applications/{app['id']}/resolved")).json()
    assert (res["version"], res["environment"]) == (3, "staging")
    await client.put(f"/prompts/{pid}/environments/staging", json={"version": 2})
    assert (await client.get(f"/applications/{app['id']}/resolved")).json()["version"] == 2
    r = await client.delete(f"/prompts/{pid}/environments/staging", params={"reason": "done"})
    assert "staging" not in {k for k, v in r.json()["environments"].items() if v["version"]}
    r = await client.get(f"/applications/{app['id']}/resolved")
    assert r.status_code == 409 and r.json()["type"] == "urn:harness:problem:environment-unset"
    r = await client.delete(f"/prompts/{pid}/environments/production")
    assert r.status_code == 422
    r = await client.put(f"/prompts/{pid}/environments/Bad Name", json={"version": 1})
    assert r.status_code == 422
    types = [h["type"] for h in (await client.get(f"/prompts/{pid}/history")).json()["items"]]
    assert types.count("PromptEnvironmentMoved") == 2 and "PromptEnvironmentCleared" in types


async def test_time_travel_answers_what_was_served_then(client):
    pid = await prompt_with_versions(client, "v1", "v2", "v3")
    app = (await client.post("/applications", json={"name": "tt", "model_id": "echo",
                                                    "prompt_id": pid})).json()
    seen = []
    for v in (2, 3, 1):
        await asyncio.sleep(0.02)
        await client.put(f"/prompts/{pid}/versions/{v}/activate", json={"reason": f"to {v}"})
        await asyncio.sleep(0.02)
        at = datetime.now(UTC)
        served = (await client.get(f"/applications/{app['id']}/resolved")).json()
        envs = (await client.get(f"/prompts/{pid}/environments")).json()["environments"]
        seen.append((at, served, envs))
    await client.put(f"/prompts/{pid}/versions/2/activate", json={})
    for at, served, envs in seen:
        past = (await client.get(f"/applications/{app['id']}/resolved",
                                 params={"as_of": at.isoformat()})).json()
        assert (past["version"], past["content"], past["model"]) == (
            served["version"], served["content"], served["model"])
        assert past["set_by"]["reason"] == f"to {served['version']}"
        then = (await client.get(f"/prompts/{pid}/environments",
                                 params={"as_of": at.isoformat()})).json()["environments"]
        assert then["production"]["version"] == envs["production"]["version"]


async def test_approval_policy_self_approval_expiry_and_history(client):
    pid = await prompt_with_versions(client, "v1", "v2", "v3")
    r = await client.put(f"/prompts/{pid}/policy", json={"require_approval": True})
    assert r.status_code == 200, r.text
    r = await client.put(f"/prompts/{pid}/versions/2/activate", json={})
    assert r.status_code == 409 and r.json()["type"] == "urn:harness:problem:policy-violation"
    r = await client.post(f"/prompts/{pid}/versions", json={"content": "v4", "activate": True})
    assert r.status_code == 409
    prop = (await client.post(f"/prompts/{pid}/promotions", headers=alice(),
                              json={"version": 2, "reason": "clearer"})).json()
    assert prop["status"] == "pending" and prop["current_version"] == 1
    r = await client.post(f"/prompts/{pid}/promotions/{prop['id']}/approve", headers=alice())
    assert r.status_code == 403 and r.json()["type"] == "urn:harness:problem:self-approval"
    pending = (await client.get("/promotions")).json()["items"]
    assert [p["id"] for p in pending] == [prop["id"]]
    r = await client.post(f"/prompts/{pid}/promotions/{prop['id']}/approve", headers=bob(),
                          json={"comment": "looks good"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "applied" and r.json()["decided_by"] == "bob"
    assert (await client.get(f"/prompts/{pid}")).json()["active_version"] == 2
    production = (await client.get(f"/prompts/{pid}/environments")).json()[
        "environments"]["production"]
    assert (production["set_by"]["actor"], production["set_by"]["promotion_id"]) == (
        "bob", prop["id"])  # which promotion put it there, as for other environments
    r = await client.post(f"/prompts/{pid}/promotions/{prop['id']}/approve", headers=bob())
    assert r.status_code == 409  # already applied
    # a proposal that expires cannot be approved
    await client.put(f"/prompts/{pid}/policy", json={"require_approval": True,
                                                     "proposal_ttl_hours": 0.0003})
    short = (await client.post(f"/prompts/{pid}/promotions", headers=alice(),
                               json={"version": 3})).json()
    await asyncio.sleep(1.3)
    r = await client.post(f"/prompts/{pid}/promotions/{short['id']}/approve", headers=bob())
    assert r.status_code == 409 and "expired" in r.json()["detail"]
    got = (await client.get(f"/prompts/{pid}/promotions/{short['id']}")).json()
    assert got["status"] == "expired"
    rej = (await client.post(f"/prompts/{pid}/promotions", headers=alice(),
                             json={"version": 3})).json()
    await client.put(f"/prompts/{pid}/policy", json={"require_approval": True})
    rej = (await client.post(f"/prompts/{pid}/promotions", headers=alice(),
                             json={"version": 3})).json()
    r = await client.post(f"/prompts/{pid}/promotions/{rej['id']}/reject", headers=bob(),
                          json={"comment": "not yet"})
    assert r.json()["status"] == "rejected"
    h = (await client.get(f"/prompts/{pid}/history", params={"limit": 500})).json()["items"]
    types = [e["type"] for e in h]
    for t in ("PromptPolicySet", "PromotionProposed", "PromotionApproved", "PromotionApplied",
              "PromotionRejected"):
        assert t in types
    applied = next(e for e in h if e["type"] == "PromotionApproved")
    assert applied["actor"] == "bob"


async def test_concurrent_approvals_resolve_to_one_pointer(client):
    pid = await prompt_with_versions(client, "v1", "v2", "v3")
    await client.put(f"/prompts/{pid}/policy", json={"require_approval": True})
    a = (await client.post(f"/prompts/{pid}/promotions", headers=alice(),
                           json={"version": 2})).json()
    b = (await client.post(f"/prompts/{pid}/promotions", headers=alice(),
                           json={"version": 3})).json()
    results = await asyncio.gather(*[
        client.post(f"/prompts/{pid}/promotions/{x['id']}/approve", headers=bob())
        for x in (a, b)])
    codes = sorted(r.status_code for r in results)
    assert codes == [200, 409]
    winner = next(r.json() for r in results if r.status_code == 200)
    active = (await client.get(f"/prompts/{pid}")).json()["active_version"]
    assert active == winner["version"]
    statuses = {x["id"]: x["status"] for x in
                (await client.get(f"/prompts/{pid}/promotions")).json()["items"]}
    assert sorted(statuses.values()) == ["applied", "superseded"]


async def test_approver_role_with_keys(runtime):
    editor = await apikeys.create_key(runtime.pool, "ed", "editor")
    approver = await apikeys.create_key(runtime.pool, "ann", "approver")
    admin = await apikeys.create_key(runtime.pool, "root", "admin")
    app = create_app(runtime=runtime)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://r") as c:
        def h(k):
            return {"Authorization": f"Bearer {k}"}

        pid = (await c.post("/prompts", json={"name": "k", "content": "v1"},
                            headers=h(editor))).json()["id"]
        await c.post(f"/prompts/{pid}/versions", json={"content": "v2"}, headers=h(editor))
        assert (await c.put(f"/prompts/{pid}/policy", json={"require_approval": True},
                            headers=h(editor))).status_code == 403
        await c.put(f"/prompts/{pid}/policy", json={"require_approval": True}, headers=h(admin))
        prop = (await c.post(f"/prompts/{pid}/promotions", json={"version": 2},
                             headers=h(editor))).json()
        r = await c.post(f"/prompts/{pid}/promotions/{prop['id']}/approve", headers=h(editor))
        assert r.status_code == 403 and "approver" in r.json()["detail"]
        r = await c.post(f"/prompts/{pid}/promotions/{prop['id']}/approve", headers=h(approver))
        assert r.status_code == 200 and r.json()["decided_by"] == "ann"


async def test_global_default_policy_applies_to_prompts_without_one(client):
    pid = await prompt_with_versions(client, "v1", "v2")
    r = await client.put("/policy", json={"require_approval": True,
                                          "environments": ["production", "staging"]})
    assert r.status_code == 200
    assert (await client.put(f"/prompts/{pid}/versions/2/activate", json={})).status_code == 409
    r = await client.put(f"/prompts/{pid}/environments/staging", json={"version": 2})
    assert r.status_code == 409
    assert (await client.put(f"/prompts/{pid}/environments/dev",
                             json={"version": 2})).status_code == 200
    eff = (await client.get(f"/prompts/{pid}/policy")).json()
    assert eff["policy"] is None and eff["effective"]["require_approval"]


async def test_lineage_tree(client):
    pid = await prompt_with_versions(client, "v1", "v2")  # v2 derived from v1 (active)
    await client.post(f"/prompts/{pid}/versions", json={"content": "v3", "derived_from": 1})
    await client.put(f"/prompts/{pid}/versions/2/activate", json={})
    await client.post(f"/prompts/{pid}/versions", json={"content": "v4"})  # from active v2
    lin = (await client.get(f"/prompts/{pid}/lineage")).json()
    assert {n["version"]: n["derived_from"] for n in lin["versions"]} == {1: None, 2: 1, 3: 1,
                                                                          4: 2}
    assert lin["tree"] == [{"version": 1, "children": [
        {"version": 2, "children": [{"version": 4, "children": []}]},
        {"version": 3, "children": []}]}]
    d = (await client.get(f"/prompts/{pid}/diff", params={"from": 3, "to": 4})).json()
    assert "-v3" in d["diff"] and "+v4" in d["diff"]
    r = await client.post(f"/prompts/{pid}/versions", json={"content": "x", "derived_from": 9})
    assert r.status_code == 404


async def test_eval_gate_refuses_a_regression_listing_cases_and_passes_when_fixed(
        stack_client):
    c = stack_client
    cities = ["Paris", "Rome", "Oslo", "Lima", "Kyiv", "Doha", "Baku", "Riga"]
    pid = await prompt_with_versions(c, "The capital is {{ city }}.", "Capital: unknown.",
                                     "Capital = {{ city }}")
    gold = (await c.post("/datasets", json={"name": "capitals", "dataset_type": "golden"})
            ).json()
    await c.post(f"/datasets/{gold['id']}/cases", json={"cases": [
        {"input": {"city": x}, "assert": [{"type": "contains", "value": x}]} for x in cities]})
    policy = {"gate": {"dataset_id": gold["id"], "min_pass_rate": 0.9}}
    r = await c.put(f"/prompts/{pid}/policy", json=policy)
    assert r.status_code == 200, r.text
    # an unverified golden dataset cannot gate anything
    r = await c.put(f"/prompts/{pid}/versions/3/activate", json={})
    assert r.status_code == 409 and "verified" in r.json()["detail"]
    await c.post(f"/datasets/{gold['id']}/verify", json={"note": "checked"})
    r = await c.put(f"/prompts/{pid}/versions/3/activate", json={})
    assert r.status_code == 409 and "no completed run" in r.json()["detail"]

    bad = (await c.post(f"/prompts/{pid}/promotions", headers=alice(), json={
        "version": 2, "reason": "shorter", "run_gate": {"model": "echo"}})).json()
    # pending until its gate run completes (or decided at once when the run completed
    # while the proposal was being decided)
    assert bad["status"] in ("pending", "rejected") and bad["gate_run_id"]
    await wait_run(c, bad["gate_run_id"])
    for _ in range(600):
        got = (await c.get(f"/prompts/{pid}/promotions/{bad['id']}")).json()
        if got["status"] != "pending":
            break
        await asyncio.sleep(0.05)
    assert got["status"] == "rejected", got
    gate = got["gate"]
    assert not gate["passed"] and gate["pass_rate"] == 0
    assert len(gate["regressed_cases"]) == 8 and gate["mcnemar"]["significant"]
    assert any("significant regression against v1" in x for x in gate["reasons"])
    assert {r_["input"]["city"] for r_ in gate["regressed"]} == set(cities)
    assert (await c.get(f"/prompts/{pid}")).json()["active_version"] == 1

    good = (await c.post(f"/prompts/{pid}/promotions", headers=alice(), json={
        "version": 3, "run_gate": {"model": "echo"}})).json()
    await wait_run(c, good["gate_run_id"])
    for _ in range(600):
        got = (await c.get(f"/prompts/{pid}/promotions/{good['id']}")).json()
        if got["status"] != "pending":
            break
        await asyncio.sleep(0.05)
    assert got["status"] == "applied", got
    assert got["gate"]["passed"] and got["gate"]["pass_rate"] == 1.0
    assert (await c.get(f"/prompts/{pid}")).json()["active_version"] == 3
