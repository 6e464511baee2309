"""Pivots, run comparisons and trends shaped for tables and charts."""

from __future__ import annotations

from typing import Any

from .badges import ms, pct, result_badge, short, signed_pct, usd

METRICS = {  # pivot metric → (label, formatter)
    "case_pass_rate": ("cases passing", lambda v, c: pct(v, 1)),
    "pass_rate": ("results passing", lambda v, c: pct(v, 1)),
    "mean_score": ("mean score", lambda v, c: "—" if v is None else f"{v:.3f}"),
    "latency_p95_ms": ("latency p95", lambda v, c: ms(v)),
    "cost_usd": ("cost", lambda v, c: usd(v, c.get("cost_unknown", 0))),
}


def pivot_grid(pivot: dict[str, Any], metric: str) -> list[dict[str, Any]]:
    """One row per prompt version, one column per model, ``metric`` formatted in cells."""
    fmt = METRICS[metric][1]
    cells = {(c["prompt"], c["model"]): c for c in pivot.get("cells", [])}
    rows = []
    for p in pivot.get("prompts", []):
        row: dict[str, Any] = {"prompt version": p}
        for m in pivot.get("models", []):
            cell = cells.get((p, m))
            row[m] = fmt(cell.get(metric), cell) if cell else "—"
        rows.append(row)
    return rows


def pivot_long(pivot: dict[str, Any]) -> list[dict[str, Any]]:
    """Every cell with every metric (raw numbers, for sorting and charts)."""
    return [{"prompt version": c["prompt"], "model": c["model"],
             "case_pass_rate": c.get("case_pass_rate"), "pass_rate": c.get("pass_rate"),
             "mean_score": c.get("mean_score"), "latency_p95_ms": c.get("latency_p95_ms"),
             "cost_usd": c.get("cost_usd"), "results": c.get("results", 0)}
            for c in pivot.get("cells", [])]


def best_cell(pivot: dict[str, Any]) -> dict[str, Any] | None:
    """The highest case pass rate; ties go to the better score, then the lower cost."""
    cells = [c for c in pivot.get("cells", []) if c.get("case_pass_rate") is not None]
    if not cells:
        return None
    return max(cells, key=lambda c: (c["case_pass_rate"], c.get("mean_score") or 0.0,
                                     -(c.get("cost_usd") or 0.0)))


def comparison_rows(comparison: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for t in comparison.get("targets", []):
        pf, sc = t.get("pass_fail") or {}, t.get("score") or {}
        p = pf.get("p_value")
        rows.append({
            "target": t.get("after", {}).get("label") or t.get("target_key"),
            "cases passing before": pct(t.get("before", {}).get("case_pass_rate"), 1),
            "cases passing after": pct(t.get("after", {}).get("case_pass_rate"), 1),
            "change": signed_pct(t.get("case_pass_rate_delta")),
            "pass/fail p-value": "—" if p is None else f"{p:.3g}",
            "significant": "yes" if pf.get("significant") or sc.get("significant") else "no",
            "score change": "—" if t.get("mean_score_delta") is None
            else f"{t['mean_score_delta']:+.3f}",
            "metric changes": metric_changes(t),
        })
    return rows


def metric_changes(target: dict[str, Any]) -> str:
    """Each metric's mean change, marked * when its paired bootstrap says significant:
    ``faithfulness -0.500*, bleu +0.010``; '—' without metrics."""
    sig = target.get("metric_significance") or {}
    parts = [f"{name} {delta:+.3f}{'*' if (sig.get(name) or {}).get('significant') else ''}"
             for name, delta in (target.get("metric_mean_deltas") or {}).items()
             if delta is not None]
    return ", ".join(parts) or "—"


CHANGE_LABELS = {"regressed": "🔻 regressed", "fixed": "🔺 fixed",
                 "changed_output": "✏️ output changed", "unchanged": "= unchanged",
                 "added": "➕ added", "removed": "➖ removed"}


def change_rows(comparison: dict[str, Any], kinds: list[str]) -> list[dict[str, Any]]:
    """Per-case changes of the chosen kinds, regressions first."""
    order = {k: i for i, k in enumerate(CHANGE_LABELS)}
    picked = [c for c in comparison.get("changes", []) if c.get("change") in kinds]
    picked.sort(key=lambda c: (order.get(c["change"], 99), c["case_id"]))
    return [{"change": CHANGE_LABELS.get(c["change"], c["change"]),
             "case": short(c.get("case_preview") or c["case_id"]),
             "target": c.get("target_key"), "before": result_badge(c.get("before")),
             "after": result_badge(c.get("after")),
             "before output": short(c.get("before_output")),
             "after output": short(c.get("after_output"))} for c in picked]


def trend_rows(points: list[dict[str, Any]],
               exclude_runs: set[str] | frozenset[str] = frozenset()) -> list[dict[str, Any]]:
    """Chart data: one row per run × target, a series per version · model."""
    rows = []
    for p in points:
        if p.get("run_id") in exclude_runs or not p.get("results"):
            continue
        version = p.get("prompt_version")
        rows.append({"at": p["at"], "run": p["run_id"],
                     "version": f"v{version}" if version is not None else "?",
                     "model": p.get("model"),
                     "series": f"v{version} · {p.get('model')}",
                     "cases passing": p.get("case_pass_rate"),
                     "results passing": p.get("pass_rate"),
                     "mean score": p.get("mean_score"), "results": p.get("results")})
    return rows
