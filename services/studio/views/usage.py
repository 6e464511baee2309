"""The gateway's usage metrics and cost alerts, shaped for charts and tables."""

from __future__ import annotations

from typing import Any

from .badges import usd


def group_name(item: dict[str, Any], group_by: str) -> str:
    value = item.get(group_by)
    return str(value) if value not in (None, "") else "(none)"


def latency_rows(items: list[dict[str, Any]], group_by: str) -> list[dict[str, Any]]:
    """Long format: bucket, group, percentile, milliseconds."""
    rows = []
    for it in items:
        for pct_name, value in (it.get("latency_ms") or {}).items():
            if value is not None:
                rows.append({"bucket": it["bucket"], "group": group_name(it, group_by),
                             "percentile": pct_name, "ms": float(value)})
    return rows


def series_rows(items: list[dict[str, Any]], group_by: str) -> list[dict[str, Any]]:
    """Wide format per bucket × group: requests, errors, error rate, tokens, cost."""
    return [{"bucket": it["bucket"], "group": group_name(it, group_by),
             "requests": it.get("requests", 0), "errors": it.get("errors", 0),
             "error rate": it.get("error_rate", 0.0),
             "prompt tokens": it.get("prompt_tokens", 0),
             "completion tokens": it.get("completion_tokens", 0),
             "cost": it.get("cost_usd")} for it in items]


def totals(items: list[dict[str, Any]]) -> dict[str, Any]:
    requests = sum(it.get("requests", 0) for it in items)
    errors = sum(it.get("errors", 0) for it in items)
    known = [it["cost_usd"] for it in items if it.get("cost_usd") is not None]
    return {"requests": requests, "errors": errors,
            "error_rate": errors / requests if requests else 0.0,
            "tokens": sum(it.get("prompt_tokens", 0) + it.get("completion_tokens", 0)
                          for it in items),
            "cost_usd": sum(known) if known else None,
            "cost_unknown": sum(it.get("calls_with_unknown_cost", 0) for it in items)}


def _listing(answer: Any, *keys: str) -> list[dict[str, Any]]:
    if isinstance(answer, list):
        return answer
    if isinstance(answer, dict):
        for k in keys:
            if isinstance(answer.get(k), list):
                return answer[k]
    return []


def alert_rows(answer: Any) -> list[dict[str, Any]]:
    """Configured alerts: scope, target, period, threshold, where it notifies."""
    rows = []
    for a in _listing(answer, "items", "alerts"):
        threshold = a.get("threshold_usd")
        rows.append({"id": a.get("id"), "scope": a.get("scope"),
                     "target": a.get("target") or ("all traffic"
                                                   if a.get("scope") == "total" else "—"),
                     "period": a.get("period"),
                     "threshold": usd(float(threshold)) if threshold is not None else "—",
                     "notifies": a.get("webhook_url") or "—",
                     "fired": len(a.get("firings") or [])})
    return rows


def firing_rows(answer: Any) -> list[dict[str, Any]]:
    """Alerts that fired, newest first (nested per alert or listed on their own)."""
    fired: list[dict[str, Any]] = []
    for a in _listing(answer, "items", "alerts"):
        for f in a.get("firings") or []:
            fired.append({**f, "alert_id": f.get("alert_id", a.get("id")),
                          "scope": a.get("scope"), "target": a.get("target")})
    if isinstance(answer, dict):
        fired += _listing(answer, "fired", "firings")
    rows = [{"fired at": f.get("fired_at"), "alert": f.get("alert_id"),
             "scope": f.get("scope") or "—", "target": f.get("target") or "—",
             "period": f.get("period_start"),
             "spent": usd(float(f["spent_usd"])) if f.get("spent_usd") is not None else "—",
             "delivered": "yes" if f.get("delivered") else "no"} for f in fired]
    rows.sort(key=lambda r: str(r["fired at"] or ""), reverse=True)
    return rows
