"""Run results as tables: one row per case × target × repeat, and a case's assertions."""

from __future__ import annotations

from typing import Any

from .badges import ms, pct, result_badge, short, usd


def target_labels(run: dict[str, Any]) -> dict[str, str]:
    return {t["target_id"]: t.get("label") or t["target_id"] for t in run.get("targets", [])}


def result_rows(results: list[dict[str, Any]], labels: dict[str, str]) -> list[dict[str, Any]]:
    rows = []
    for r in results:
        rows.append({
            "result": result_badge(r.get("status")),
            "case": case_text(r),
            "target": labels.get(r.get("target_id"), r.get("target_id")),
            "repeat": r.get("repeat", 0),
            "score": r.get("score"),
            "latency": ms(r.get("latency_ms")),
            "tokens": r.get("total_tokens"),
            "cost": usd(r.get("cost_usd")),
            "output": short(r.get("output") if r.get("output") is not None else r.get("error")),
            "reason": short(r.get("reason"), 160),
        })
    return rows


def case_text(r: dict[str, Any], limit: int = 120) -> str:
    """What the case asks (a preview of its inputs), or its id when it is gone."""
    return short(r.get("case_preview") or r.get("case_id"), limit)


def assertion_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for a in result.get("assertions") or []:
        status = "error" if a.get("error") else "pass" if a.get("passed") else "fail"
        rows.append({"result": result_badge(status), "assertion": a.get("type"),
                     "score": a.get("score"), "reason": a.get("reason") or "",
                     "metric": a.get("metric") or ""})
    return rows


def result_key(r: dict[str, Any], labels: dict[str, str]) -> str:
    """How a result is named in the case-detail picker."""
    extra = f" · repeat {r['repeat']}" if r.get("repeat") else ""
    return (f"{result_badge(r.get('status'))} · {case_text(r, 60)} · "
            f"{labels.get(r.get('target_id'), r.get('target_id'))}{extra}")


def target_summary_rows(summary: dict[str, Any] | None) -> list[dict[str, Any]]:
    if not summary:
        return []
    rows = []
    for t in summary.get("targets", []):
        rows.append({"target": t.get("label") or t.get("target_id"),
                     "cases passing": pct(t.get("case_pass_rate"), 1),
                     "results passing": pct(t.get("pass_rate"), 1),
                     "pass": t.get("passed"), "fail": t.get("failed"),
                     "error": t.get("errors"), "mean score": t.get("mean_score"),
                     "latency p95": ms(t.get("latency_p95_ms")),
                     "tokens": t.get("total_tokens"),
                     "cost": usd(t.get("cost_usd"), t.get("cost_unknown", 0)),
                     "flaky cases": len(t.get("flaky_cases") or []),
                     **{f"{name} (mean)": None if m.get("mean") is None else round(m["mean"], 3)
                        for name, m in sorted((t.get("metrics") or {}).items())}})
    return rows
