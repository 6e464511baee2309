"""Rows and labels of the Evaluators page and of the Usage page's score chart (pure: no
Streamlit), so they are tested alone."""

from __future__ import annotations

from typing import Any

from .badges import pct

TRAFFIC_FIELDS = ("application", "prompt_id", "model", "key", "source")
ASSERTION_TYPES = ("llm-rubric", "contains", "icontains", "not-contains", "regex", "is-json",
                   "equals", "starts-with")


def what_label(ev: dict[str, Any]) -> str:
    """What an evaluator scores with: ``llm-rubric: is polite`` or ``metric answer_relevancy``."""
    if ev.get("metric"):
        return f"metric {ev['metric']}"
    a = ev.get("assertion") or {}
    value = a.get("value")
    if value in (None, ""):
        return str(a.get("type", "—"))
    text = value if isinstance(value, str) else str(value)
    return f"{a.get('type')}: {text if len(text) <= 60 else text[:59] + '…'}"


def traffic_label(traffic: dict[str, Any] | None) -> str:
    if not traffic:
        return "all traffic"
    return ", ".join(f"{k}={traffic[k]}" for k in TRAFFIC_FIELDS if traffic.get(k))


def status_badge(status: str | None) -> str:
    return "▶️ active" if status == "active" else "⏸️ paused" if status == "paused" else "—"


def _num(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def evaluator_rows(evaluators: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"name": ev["name"], "status": status_badge(ev.get("status")),
             "scores with": what_label(ev), "traffic": traffic_label(ev.get("traffic")),
             "sampling": pct(ev.get("sampling_rate"), 0),
             "scored (24 h)": (ev.get("last_24h") or {}).get("scores", 0),
             "mean (24 h)": _num((ev.get("last_24h") or {}).get("mean")),
             "judge": ev.get("judge_model") or "default",
             "compared with": ev.get("human_score") or "—",
             "updated": str(ev.get("updated_at", ""))[:19].replace("T", " ")}
            for ev in evaluators]


def assertion_of(kind: str, value: str) -> dict[str, Any]:
    """The assertion the form describes; a blank value is left out (``is-json``)."""
    value = value.strip()
    return {"type": kind, "value": value} if value else {"type": kind}


def traffic_of(fields: dict[str, str]) -> dict[str, str]:
    """The traffic selection the form's fields give (blank: any)."""
    return {k: v.strip() for k, v in fields.items() if k in TRAFFIC_FIELDS and v and v.strip()}


def agreement_metrics(a: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, value) of the figures that apply to the people's score's type."""
    out = [("Pairs", f"{a.get('n', 0):,}"), ("Traces", f"{a.get('traces', 0):,}")]
    if a.get("data_type") == "numeric":
        out += [("Pearson", _num(a.get("pearson"))), ("Spearman", _num(a.get("spearman"))),
                ("Mean |difference|", _num(a.get("mean_abs_diff")))]
    else:
        out += [("Accuracy", pct(a.get("accuracy"), 1)), ("Cohen's kappa", _num(a.get("kappa")))]
    return out


def confusion_rows(a: dict[str, Any]) -> list[dict[str, Any]]:
    c = a.get("confusion")
    if not c:
        return []
    return [{"": "judge pass", "person pass": c["both_pass"],
             "person fail": c["judge_pass_human_fail"]},
            {"": "judge fail", "person pass": c["judge_fail_human_pass"],
             "person fail": c["both_fail"]}]


def score_series_rows(scores: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    """``/metrics/usage`` ``scores`` of one score name, one row per bucket and prompt
    version × model × source (a trace without a prompt counts under "no prompt")."""
    rows = []
    for s in scores:
        if s.get("name") != name:
            continue
        prompt = (f"{s['prompt_id']} v{s['prompt_version']}" if s.get("prompt_id")
                  and s.get("prompt_version") is not None
                  else s.get("prompt_id") or "no prompt")
        rows.append({"bucket": s["bucket"], "prompt version": prompt,
                     "model": s.get("model") or "—", "source": s.get("source") or "—",
                     "series": f"{prompt} · {s.get('model') or '—'}",
                     "mean": float(s["mean"]), "count": int(s.get("count", 0))})
    return rows


def score_names(scores: list[dict[str, Any]]) -> list[str]:
    return sorted({s["name"] for s in scores if s.get("name")})


def score_alert_rows(alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for a in alerts:
        cur = a.get("current") or {}
        scope = [f"evaluator {a['evaluator_id'][:8]}" if a.get("evaluator_id") else
                 (a.get("source") or "any source")]
        if a.get("prompt_id"):
            scope.append(f"prompt {a['prompt_id']}" + (f" v{a['prompt_version']}"
                                                       if a.get("prompt_version") else ""))
        if a.get("model"):
            scope.append(f"model {a['model']}")
        mean = cur.get("mean")
        rows.append({"alert": a.get("name") or a["score_name"], "score": a["score_name"],
                     "on": ", ".join(scope),
                     "fires below": f"{a['threshold']:g}",
                     "window": f"{a['window_minutes']} min, ≥{a['min_scores']} scores",
                     "mean now": "—" if mean is None else f"{mean:.3g} ({cur.get('count')})",
                     "status": "🔔 fired" if cur.get("fired") else
                               "⚠️ below" if cur.get("below") else "quiet",
                     "per": a["period"], "notifies": a.get("webhook") or "event only"})
    return rows


def score_firing_rows(firings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Score alerts that fired, newest first, with delivery to the webhook."""
    rows = []
    for f in firings:
        delivered = ("yes" if f.get("delivered") else
                     f"no ({f['last_error']})" if f.get("last_error") else
                     "pending" if f.get("attempts") else "event only")
        rows.append({"fired at": str(f.get("fired_at", ""))[:19].replace("T", " "),
                     "alert": f.get("name") or f.get("score_name") or f.get("alert_id"),
                     "mean": f"{f['mean']:.3g} ({f.get('count')})",
                     "threshold": f"{f['threshold']:g}",
                     "period from": str(f.get("period_start", ""))[:16].replace("T", " "),
                     "delivered": delivered})
    return rows
