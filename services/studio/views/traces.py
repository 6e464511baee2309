"""Rows and labels of the Traces page (pure: no Streamlit), so they are tested alone."""

from __future__ import annotations

from typing import Any

from .badges import ms, usd


def status_badge(t: dict[str, Any]) -> str:
    return "✅ ok" if t.get("status", 0) < 400 else f"⚠️ {t.get('status')}"


def model_label(t: dict[str, Any]) -> str:
    asked, answered = t.get("model_requested") or "—", t.get("model_answered")
    return asked if not answered or answered == asked else f"{asked} → {answered}"


def prompt_label(t: dict[str, Any]) -> str:
    if not t.get("prompt_id"):
        return "—"
    version = t.get("prompt_version")
    return f"{t['prompt_id']} v{version}" if version else t["prompt_id"]


def trace_rows(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One table row per trace summary, newest first as the API answers."""
    return [{"time": str(t.get("created_at", ""))[:19].replace("T", " "),
             "status": status_badge(t), "source": t.get("source"),
             "model": model_label(t), "application": t.get("application") or "—",
             "prompt": prompt_label(t), "key": t.get("key_name") or "—",
             "latency": ms(t.get("latency_ms")),
             "tokens": t.get("total_tokens"), "cost": usd(t.get("cost_usd")),
             "id": t["id"]} for t in items]


def trace_option(t: dict[str, Any]) -> str:
    """How one trace reads in the picker."""
    return (f"{str(t.get('created_at', ''))[:19].replace('T', ' ')} · {model_label(t)} · "
            f"{status_badge(t)} · {t['id'][:8]}")


def score_rows(scores: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per score of a trace: who gave what, and why."""
    return [{"name": s.get("name"),
             "value": s.get("label") or f"{s.get('value'):g}",
             "by": s.get("actor") or s.get("source") or "—",
             "comment": s.get("comment") or "",
             "when": str(s.get("scored_at", ""))[:19].replace("T", " ")} for s in scores]
