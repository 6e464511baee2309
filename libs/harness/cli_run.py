"""``harness run``: request a run over the REST API, follow it, print the summary, gate CI."""

from __future__ import annotations

import os
import time
from typing import Any

import httpx
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table


class RunCommandError(Exception):
    pass


def _ok(r: httpx.Response) -> Any:
    if r.status_code >= 400:
        try:
            body = r.json()
            detail = body.get("detail") or body
        except ValueError:
            detail = r.text
        raise RunCommandError(f"{r.request.method} {r.request.url.path}: {r.status_code} {detail}")
    return r.json()


def _find(client: httpx.Client, path: str, name: str, kind: str) -> dict:
    items = _ok(client.get(path, params={"q": name, "limit": 500} if path != "/applications"
                           else {"limit": 500}))["items"]
    for item in items:
        if item["name"].lower() == name.lower() or item["id"] == name:
            return item
    raise RunCommandError(f"no {kind} named {name!r}")


def _fmt(value: Any, pattern: str = "{:.3f}") -> str:
    return "—" if value is None else pattern.format(value)


def _table(title: str) -> Table:
    """A table for an 80-column terminal: the first (key) column folds long names onto
    more lines instead of cropping them, numbers never wrap."""
    table = Table(title=title, title_justify="left")
    table.add_column("target", overflow="fold", min_width=12, ratio=1)
    return table


def _num(table: Table, header: str) -> None:
    table.add_column(header, justify="right", no_wrap=True)


def _label(t: dict) -> str:
    return escape(t.get("label") or t["target_id"])


def summary_tables(summary: dict) -> list[Table]:
    """Outcomes first (what a reader needs), then cost and latency, as two tables narrow
    enough for an 80-column terminal instead of one 13-column grid of cropped cells."""
    outcomes = _table("run summary")
    for col in ("cases", "pass", "fail", "error", "pass\nrate", "case\npass rate"):
        _num(outcomes, col)
    costs = _table("cost and latency")
    for col in ("mean\nscore", "p50\nms", "p95\nms", "tokens", "cost $", "flaky\ncases"):
        _num(costs, col)
    for t in [*summary["targets"], summary["total"]]:
        outcomes.add_row(
            _label(t), str(t["cases"]), f"[green]{t['passed']}[/green]",
            f"[red]{t['failed']}[/red]", f"[yellow]{t['errors']}[/yellow]",
            _fmt(t["pass_rate"], "{:.1%}"), _fmt(t["case_pass_rate"], "{:.1%}"))
        cost = _fmt(t["cost_usd"], "{:.5f}")
        if t.get("cost_unknown"):
            cost += f"\n+{t['cost_unknown']} unpriced"
        costs.add_row(
            _label(t), _fmt(t["mean_score"]), _fmt(t["latency_p50_ms"], "{:.0f}"),
            _fmt(t["latency_p95_ms"], "{:.0f}"), str(t["total_tokens"]), cost,
            str(len(t["flaky_cases"])))
    return [outcomes, costs]


def metrics_table(summary: dict) -> Table:
    table = _table("metrics (mean, median, min–max over scored results)")
    table.add_column("metric", overflow="fold", min_width=12)
    for col in ("mean", "p50", "min–max", "scored\n(n/a, error)"):
        _num(table, col)
    for t in [*summary["targets"], summary["total"]]:
        for name, m in t["metrics"].items():
            table.add_row(_label(t), escape(name), _fmt(m["mean"]),
                          _fmt(m["p50"]), f"{_fmt(m['min'])}–{_fmt(m['max'])}",
                          f"{m['count']} ({m['n_not_applicable']}, {m['n_errors']})")
    return table


def run_and_follow(client: httpx.Client, console: Console, *, dataset: str,
                   apps: list[str], prompts: list[str], models: list[str],
                   min_pass_rate: float | None, case_threshold: float, repeat: int,
                   concurrency: int, description: str = "", metrics: list[str] | None = None,
                   judge_model: str | None = None) -> int:
    ds = _find(client, "/datasets", dataset, "dataset")
    targets: list[dict] = []
    for name in apps:
        targets.append({"application_id": _find(client, "/applications", name,
                                                 "application")["id"]})
    for spec in prompts:
        name, _, version = spec.partition("@")
        target = {"prompt_id": _find(client, "/prompts", name, "prompt")["id"]}
        if version:
            target["version"] = int(version.lstrip("v"))
        targets.append(target)
    if not targets:
        raise RunCommandError("give at least one --app or --prompt")
    # a traced CI step names its trace in TRACEPARENT: the run becomes a part of it
    caller = os.environ.get("TRACEPARENT")
    headers = {"X-Harness-Source": "cli", **({"traceparent": caller} if caller else {})}
    run = _ok(client.post("/runs", headers=headers, json={
        "dataset_id": ds["id"], "targets": targets, "models": models,
        "min_pass_rate": min_pass_rate, "case_threshold": case_threshold, "repeat": repeat,
        "concurrency": concurrency, "description": description, "metrics": metrics,
        "judge_model": judge_model}))
    trace = (run.get("config") or {}).get("trace_context") or {}
    console.print(f"run [bold]{run['id']}[/bold]: {len(run['targets'])} target(s) × "
                  f"{run['case_count']} case(s) × {repeat} = {run['expected_results']} results "
                  f"on dataset {ds['name']} (snapshot {run['snapshot_sha256'][:12]}"
                  + (f", trace {trace['trace_id']}" if trace.get("trace_id") else "") + ")")
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("[green]{task.fields[passed]} pass[/green] "
                             "[red]{task.fields[failed]} fail[/red] "
                             "[yellow]{task.fields[errors]} error[/yellow]"),
                  TimeElapsedColumn(), console=console, transient=False) as progress:
        task = progress.add_task("running", total=run["expected_results"], passed=0, failed=0,
                                 errors=0)
        while True:
            state = _ok(client.get(f"/runs/{run['id']}"))
            progress.update(task, completed=state["recorded"], passed=state["passed"],
                            failed=state["failed"], errors=state["errors"])
            if state["status"] in ("completed", "cancelled", "failed"):
                break
            time.sleep(0.25)
    if state["phase"] == "scoring":  # the run is done; the scorer computes its metrics
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=console, transient=False) as progress:
            task = progress.add_task("scoring", total=state["scoring"]["total"])
            while state["phase"] == "scoring":
                progress.update(task, completed=state["scoring"]["scored"])
                time.sleep(0.25)
                state = _ok(client.get(f"/runs/{run['id']}"))
            progress.update(task, completed=state["scoring"]["scored"])
    if state["status"] != "completed":
        console.print(f"[red]run {state['status']}[/red]: {state.get('reason') or ''}")
        return 2
    summary = state["summary"]
    for table in summary_tables(summary):
        console.print(table)
    if state.get("scoring"):
        console.print(metrics_table(_ok(client.get(f"/runs/{run['id']}/summary"))))
    verdict = summary["verdict"]
    threshold = "every case" if min_pass_rate is None else f"{min_pass_rate:.0%} of cases"
    rate = summary["total"]["case_pass_rate"] or 0
    if verdict == "pass":
        console.print(f"[green bold]PASS[/green bold]: {rate:.1%} of cases passed "
                      f"(needed {threshold})")
        return 0
    console.print(f"[red bold]FAIL[/red bold]: {rate:.1%} of cases passed (needed {threshold})")
    return 1
