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


def _money(value: Any) -> str:
    return "—" if value is None else usd(float(value))


def alert_rows(alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Configured alerts with this period's spend so far and whether they fired."""
    rows = []
    for a in alerts:
        target = a.get("target") or ("all calls" if a.get("scope") == "total" else "—")
        rows.append({"alert": a.get("name") or f"{a.get('scope')} {target}",
                     "scope": a.get("scope"), "target": target,
                     "period": f"per {a.get('period')}",
                     "threshold": _money(a.get("threshold_usd")),
                     "spent this period": _money(a.get("spent_usd")),
                     "status": "🔔 fired" if a.get("fired") else "quiet",
                     "notifies": a.get("webhook_url") or "event only"})
    return rows


def firing_rows(firings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Alerts that fired, newest first, with delivery to the webhook."""
    rows = []
    for f in firings:
        delivered = ("yes" if f.get("delivered") else
                     f"no ({f['last_error']})" if f.get("last_error") else "pending")
        rows.append({"fired at": f.get("fired_at"),
                     "alert": f.get("name") or f"{f.get('scope')} {f.get('target') or ''}",
                     "period from": f.get("period_start"), "spent": _money(f.get("spent_usd")),
                     "threshold": _money(f.get("threshold_usd")), "delivered": delivered})
    rows.sort(key=lambda r: str(r["fired at"] or ""), reverse=True)
    return rows
