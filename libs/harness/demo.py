"""``harness demo``: the main job of the registry, end to end, over its REST API."""

from __future__ import annotations

import httpx
from rich.console import Console
from rich.syntax import Syntax
from rich.table import Table

PROMPT_NAME = "support-reply"
V1 = [
    {"role": "system", "content": "You are a helpful support agent for {{ product }}."},
    {"role": "user", "content": "{{ question }}"},
]
V2 = [
    {"role": "system", "content": "You are a concise, friendly support agent for {{ product }}. "
                                  "Answer in {{ language }}, in at most three sentences."},
    {"role": "user", "content": "{{ question }}"},
]


def _ok(r: httpx.Response) -> dict:
    if r.status_code >= 400:
        raise SystemExit(f"{r.request.method} {r.request.url} -> {r.status_code}: {r.text}")
    return r.json()


def run_demo(base_url: str, console: Console, api_key: str | None = None) -> None:
    """``api_key``: ``HARNESS_API_KEY``, needed once the registry has keys."""
    from harness.registry_http import registry_client

    c = registry_client(base_url, api_key, headers={"X-Actor": "demo"}, timeout=30)
    found = _ok(c.get("/prompts", params={"q": PROMPT_NAME}))["items"]
    prompt = next((p for p in found if p["name"] == PROMPT_NAME), None)
    if prompt is None:
        prompt = _ok(c.post("/prompts", json={
            "name": PROMPT_NAME, "description": "Replies to customer questions",
            "content": V1, "change_note": "first draft"}))
        console.print(f"created prompt [bold]{PROMPT_NAME}[/bold] ({prompt['id']}), v1 active")
    pid = prompt["id"]
    # run again on the same database: the same v2, not one more identical version
    versions = _ok(c.get(f"/prompts/{pid}/versions", params={"limit": 500}))["items"]
    v2 = next((full for v in versions  # summaries: the content is on each version
               if (full := _ok(c.get(f"/prompts/{pid}/versions/{v['version']}")))["content"]
               == V2), None)
    if v2 is None:
        v2 = _ok(c.post(f"/prompts/{pid}/versions", json={
            "content": V2, "change_note": "shorter answers, reply in the customer's language"}))
        console.print(f"added v{v2['version']} (variables: {', '.join(v2['variables'])})")
    else:
        console.print(f"v{v2['version']} is already there (the demo ran before on this "
                      "database)")

    apps = _ok(c.get("/applications"))["items"]
    application = next((a for a in apps if a["name"] == "support-bot"), None)
    if application is None:
        application = _ok(c.post("/applications", json={
            "name": "support-bot", "model_id": "echo", "prompt_id": pid,
            "temperature": 0.2, "max_tokens": 256}))
        console.print("created application [bold]support-bot[/bold] (model echo)")
    aid = application["id"]

    before = _ok(c.get(f"/applications/{aid}/resolved"))
    _ok(c.put(f"/prompts/{pid}/versions/{v2['version']}/activate",
              json={"reason": "reviewed: clearer answers"}))
    after = _ok(c.get(f"/applications/{aid}/resolved"))
    console.print(f"activated v{v2['version']}: support-bot now resolves v{after['version']} "
                  f"(was v{before['version']}) — no deploy")

    rendered = _ok(c.post(f"/prompts/{pid}/render", json={"variables": {
        "product": "harness", "language": "English", "question": "How do I roll back?"}}))
    console.print("rendered active version:", rendered["messages"])

    diff = _ok(c.get(f"/prompts/{pid}/diff", params={"from": before["version"],
                                                     "to": after["version"]}))
    console.print(Syntax(diff["diff"] or "(no change)", "diff", theme="ansi_dark",
                         word_wrap=True))

    _ok(c.put(f"/prompts/{pid}/versions/{before['version']}/activate",
              json={"reason": "rollback: v2 answers too short for refunds"}))
    rolled = _ok(c.get(f"/applications/{aid}/resolved"))
    console.print(f"rolled back: support-bot resolves v{rolled['version']}")

    history = _ok(c.get(f"/prompts/{pid}/history", params={"limit": 500}))["items"]
    console.print(history_table(PROMPT_NAME, history))
    evaluate_versions(c, console, pid, before["version"], after["version"])


CASES = [
    {"input": {"product": "harness", "language": "English", "question": "How do I roll back?"},
     "assert": [{"type": "icontains", "value": "roll back"}]},
    {"input": {"product": "harness", "language": "Korean", "question": "버전을 되돌리려면?"},
     "assert": [{"type": "contains", "value": "Korean"}]},
    {"input": {"product": "harness", "language": "English", "question": "Is my data safe?"},
     "assert": [{"type": "contains-any", "value": ["concise", "three sentences"]}]},
    {"input": {"product": "acme", "language": "French", "question": "Où est ma facture ?"},
     "assert": [{"type": "icontains", "value": "acme"},
                {"type": "not-contains", "value": "{{ product }}!"}]},
    {"input": {"product": "acme", "language": "English", "question": "Cancel my plan"},
     "assert": [{"type": "regex", "value": "[Aa]t most \\w+ sentences"}]},
]


def history_table(name: str, history: list[dict]) -> Table:
    """The prompt's history, readable at 80 columns: what happened and why first (reasons
    wrap at word boundaries, never cropped), then who and when."""
    table = Table(title=f"history of {name}", title_justify="left")
    table.add_column("v", justify="right", no_wrap=True)
    table.add_column("event", overflow="fold", max_width=16)
    table.add_column("note / reason", overflow="fold", ratio=1, min_width=20)
    table.add_column("actor", overflow="fold", max_width=12)
    table.add_column("when (UTC)", no_wrap=True)
    for h in history:
        event = h["type"].removeprefix("Prompt").removeprefix("Version") or h["type"]
        table.add_row(str(h["version"] or ""), event, h["note"] or "", h["actor"] or "",
                      h["at"][:16].replace("T", " "))
    return table


def _wait(c: httpx.Client, run_id: str) -> dict:
    import time

    while (run := _ok(c.get(f"/runs/{run_id}")))["status"] not in ("completed", "failed",
                                                                    "cancelled"):
        time.sleep(0.1)
    return run


def evaluate_versions(c: httpx.Client, console: Console, pid: str, v_old: int, v_new: int
                      ) -> None:
    """Run both versions on a small dataset with the offline echo model and compare."""
    found = _ok(c.get("/datasets", params={"q": "support-questions"}))["items"]
    ds = next((d for d in found if d["name"] == "support-questions"), None)
    if ds is None:
        ds = _ok(c.post("/datasets", json={"name": "support-questions",
                                           "description": "demo: customer questions",
                                           "dataset_type": "golden"}))
        _ok(c.post(f"/datasets/{ds['id']}/cases", json={"cases": CASES}))
        _ok(c.post(f"/datasets/{ds['id']}/verify", json={"note": "reviewed by the demo"}))
    runs = {}
    for version in (v_old, v_new):
        run = _ok(c.post("/runs", json={"dataset_id": ds["id"], "targets": [
            {"prompt_id": pid, "version": version, "model": "echo"}],
            "description": f"demo: v{version}"}))
        runs[version] = _wait(c, run["id"])
    table = Table(title=f"evaluation on {ds['name']} ({ds['case_count'] or len(CASES)} cases, "
                        "model echo)")
    for col in ("version", "pass", "fail", "error", "pass rate"):
        table.add_column(col)
    for version, run in runs.items():
        total = run["passed"] + run["failed"] + run["errors"]
        table.add_row(f"v{version}", str(run["passed"]), str(run["failed"]), str(run["errors"]),
                      f"{run['passed'] / total:.0%}" if total else "—")
    console.print(table)
    cmp_ = _ok(c.get("/runs/compare", params={"ids": f"{runs[v_old]['id']},{runs[v_new]['id']}"}))
    changes = Table(title=f"v{v_old} → v{v_new}: per-case changes", title_justify="left")
    changes.add_column("case", overflow="fold", ratio=1)
    changes.add_column("change", no_wrap=True)
    for col in (f"v{v_old}", f"v{v_new}"):
        changes.add_column(col, overflow="fold", ratio=1)
    cases = {x["id"]: x for x in _ok(c.get(f"/datasets/{ds['id']}/cases"))["items"]}
    style = {"regressed": "red", "fixed": "green"}
    for ch in cmp_["changes"]:
        q = cases.get(ch["case_id"], {}).get("input", {}).get("question", ch["case_id"])
        color = style.get(ch["change"], "white")
        changes.add_row(q, f"[{color}]{ch['change']}[/{color}]", ch["before"] or "",
                        ch["after"] or "")
    console.print(changes)
    t = cmp_["targets"][0]
    sig = t["pass_fail"]
    console.print(f"pass rate {t['before']['pass_rate']:.0%} → {t['after']['pass_rate']:.0%}; "
                  f"McNemar p = {sig['p_value'] if sig['p_value'] is not None else '—'}"
                  f" ({'significant' if sig['significant'] else 'not significant'}: "
                  f"{sig['note']})")
