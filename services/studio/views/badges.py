"""Badges and number formats shown across the pages."""

from __future__ import annotations

from typing import Any

RESULT_BADGES = {"pass": "✅ Pass", "fail": "❌ Fail", "error": "⚠️ Error"}
RUN_BADGES = {"queued": "⏳ queued", "running": "🔄 running", "completed": "✅ completed",
              "cancelled": "⛔ cancelled", "failed": "💥 failed"}


def result_badge(status: str | None) -> str:
    """``pass`` → ``✅ Pass``; anything unknown is shown as it is."""
    return RESULT_BADGES.get(status or "", status or "—")


def run_badge(status: str | None) -> str:
    return RUN_BADGES.get(status or "", status or "—")


def dataset_type_badge(dataset_type: str | None) -> str:
    return "🏅 golden" if dataset_type == "golden" else "🧪 evaluation"


def verified_badge(ds: dict[str, Any]) -> str:
    if not ds.get("is_verified"):
        return "○ not verified"
    who = ds.get("verified_by") or "someone"
    return f"✔ verified by {who}"


def dataset_badges(ds: dict[str, Any]) -> str:
    parts = [dataset_type_badge(ds.get("dataset_type")), verified_badge(ds)]
    if ds.get("synthetic"):
        parts.append("🤖 synthetic")
    return " · ".join(parts)


def pct(value: float | None, digits: int = 0) -> str:
    return "—" if value is None else f"{value * 100:.{digits}f}%"


def ms(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value / 1000:.2f} s" if value >= 1000 else f"{value:.0f} ms"


def usd(value: float | None, unknown: int = 0) -> str:
    """A cost; ``None`` is *unknown* (never shown as $0). ``unknown`` counts calls whose
    price is unknown next to a known sum."""
    if value is None:
        return "unknown"
    if value == 0 or value >= 1:
        text = f"${value:,.2f}"
    elif value >= 0.01:
        text = f"${value:.4f}"
    else:  # fractions of a cent: as many digits as it takes, up to a millionth
        text = "$" + f"{value:.6f}".rstrip("0")
    return f"{text} (+{unknown} unknown)" if unknown else text


def signed_pct(delta: float | None) -> str:
    if delta is None:
        return "—"
    points = delta * 100
    arrow = "▲" if points > 0.05 else "▼" if points < -0.05 else "="
    return f"{arrow} {points:+.1f} pts"


def short(text: Any, limit: int = 120) -> str:
    """One line of at most ``limit`` characters (tables stay readable)."""
    s = "" if text is None else str(text)
    s = " ".join(s.split())
    return s if len(s) <= limit else s[: limit - 1] + "…"
