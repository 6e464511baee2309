"""Governed promotion, usable locally: the gate's evidence is recorded on the proposal as
soon as its gate run completes (the approver sees it in `harness promotions list`), and
in open local mode the CLI names its actor with `--actor` (recorded as such)."""

from __future__ import annotations

import asyncio
import os
import sys

import httpx

from tests.support import processes
from tests.support.runs import wait_run

CITIES = ["Paris", "Rome", "Oslo", "Lima"]


async def harness(*args: str) -> tuple[int, str]:
    return await processes.run_async(sys.executable, "-m", "services.cli", *args, timeout=120,
                                     env={**os.environ, "COLUMNS": "200",
                                          "HARNESS_LOG_JSON": "false"})


async def _governed_prompt(c: httpx.AsyncClient) -> str:
    p = (await c.post("/prompts", json={"name": "capital", "content": "Capital {{ city }}"})
         ).json()
    await c.post(f"/prompts/{p['id']}/versions", json={"content": "The capital: {{ city }}"})
    gold = (await c.post("/datasets", json={"name": "capitals", "dataset_type": "golden"})
            ).json()
    await c.post(f"/datasets/{gold['id']}/cases", json={"cases": [
        {"input": {"city": x}, "assert": [{"type": "contains", "value": x}]} for x in CITIES]})
    await c.post(f"/datasets/{gold['id']}/verify", json={"note": "checked"})
    r = await c.put(f"/prompts/{p['id']}/policy", json={
        "require_approval": True, "gate": {"dataset_id": gold["id"], "min_pass_rate": 0.9}})
    assert r.status_code == 200, r.text
    return p["id"]


async def test_gate_evidence_is_shown_once_the_run_completes_and_actor_approves(
        live_stack_url):
    url = live_stack_url
    async with httpx.AsyncClient(timeout=60, base_url=url) as c:
        pid = await _governed_prompt(c)
    code, out = await harness("promotions", "propose", "capital", "--version", "2",
                              "--reason", "clearer", "--gate-model", "echo",
                              "--actor", "alice", "--url", url)
    assert code == 0 and "pending" in out, out
    async with httpx.AsyncClient(timeout=60, base_url=url) as c:
        [m] = (await c.get("/promotions")).json()["items"]
        assert m["proposed_by"] == "alice"
        run = await wait_run(c, m["gate_run_id"])
        assert run["status"] == "completed"
        for _ in range(1200):  # the gate watcher reacts to RunCompleted: a 60 s hang guard
            got = (await c.get(f"/prompts/{pid}/promotions/{m['id']}")).json()
            if got["gate"] is not None:
                break
            await asyncio.sleep(0.05)
        assert got["status"] == "pending"  # an approver decides, with the evidence
        assert got["gate"]["passed"] and got["gate"]["run_id"] == m["gate_run_id"]
        row = (await c.get("/promotions")).json()["items"][0]
        assert row["gate"]["passed"]  # the read model has it too
    code, out = await harness("promotions", "list", "--url", url)
    assert code == 0, out
    assert "none recorded" not in out and "gate passed" in out and "100.0%" in out, out
    # alice proposed: she cannot approve; bob, named with --actor in open local mode, can
    code, out = await harness("promotions", "approve", "capital", m["id"], "--actor", "alice",
                              "--url", url)
    assert code == 1 and "someone other than its author" in out, out
    code, out = await harness("promotions", "approve", "capital", m["id"], "--actor", "bob",
                              "--comment", "looks right", "--url", url)
    assert code == 0 and "applied" in out, out
    async with httpx.AsyncClient(timeout=60, base_url=url) as c:
        got = (await c.get(f"/prompts/{pid}/promotions/{m['id']}")).json()
        assert got["status"] == "applied" and got["decided_by"] == "bob"
        assert (await c.get(f"/prompts/{pid}")).json()["active_version"] == 2
        history = (await c.get(f"/prompts/{pid}/history", params={"limit": 500})).json()
        approved = next(h for h in history["items"] if h["type"] == "PromotionApproved")
        assert approved["actor"] == "bob"
        evaluated = [h for h in history["items"] if h["type"] == "PromotionGateEvaluated"]
        assert len(evaluated) == 1 and evaluated[0]["actor"] == "eval-gate"
