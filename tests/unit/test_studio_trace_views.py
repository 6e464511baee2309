"""The Traces page's pure helpers: trace summaries in, table rows and labels out."""

from __future__ import annotations

from services.studio.views.traces import (
    model_label,
    prompt_label,
    score_rows,
    trace_option,
    trace_rows,
)

T = {"id": "0a1b2c3d-0000-0000-0000-000000000000", "created_at": "2026-12-06T10:11:12.5+00:00",
     "source": "gateway", "model_requested": "smart", "model_answered": "openai/b",
     "status": 200, "latency_ms": 1500.0, "total_tokens": 12, "cost_usd": None,
     "application": None, "prompt_id": "p-1", "prompt_version": 3, "key_name": "team-a"}


def test_rows_show_who_answered_unknown_cost_and_the_prompt_version():
    [row] = trace_rows([T])
    assert row["time"] == "2026-12-06 10:11:12" and row["status"] == "✅ ok"
    assert row["model"] == "smart → openai/b" and row["prompt"] == "p-1 v3"
    assert row["cost"] == "unknown" and row["latency"] == "1.50 s" and row["key"] == "team-a"
    assert trace_rows([{**T, "status": 429}])[0]["status"] == "⚠️ 429"


def test_labels():
    assert model_label({**T, "model_answered": "smart"}) == "smart"
    assert prompt_label({**T, "prompt_id": None}) == "—"
    assert trace_option(T) == "2026-12-06 10:11:12 · smart → openai/b · ✅ ok · 0a1b2c3d"


def test_score_rows_show_the_label_or_the_number_and_who():
    rows = score_rows([
        {"name": "stars", "value": 4.0, "label": None, "actor": "rita", "comment": "ok",
         "source": "human", "scored_at": "2026-12-06T10:11:12+00:00"},
        {"name": "tone", "value": 1.0, "label": "kind", "actor": None, "comment": "",
         "source": "human", "scored_at": "2026-12-06T10:11:13+00:00"}])
    assert [(r["name"], r["value"], r["by"]) for r in rows] == [("stars", "4", "rita"),
                                                               ("tone", "kind", "human")]
    assert rows[0]["when"] == "2026-12-06 10:11:12"
