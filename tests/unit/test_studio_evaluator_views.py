"""The Evaluators page's and the Usage score chart's pure helpers."""

from __future__ import annotations

from services.studio.views.evaluators import (
    agreement_metrics,
    assertion_of,
    confusion_rows,
    evaluator_rows,
    score_alert_rows,
    score_firing_rows,
    score_names,
    score_series_rows,
    traffic_of,
    what_label,
)


def test_evaluator_rows_say_what_which_traffic_and_how_much():
    [row] = evaluator_rows([{"name": "polite", "status": "paused", "sampling_rate": 0.25,
                             "assertion": {"type": "llm-rubric", "value": "x" * 80},
                             "traffic": {"source": "gateway", "application": "support"},
                             "judge_model": None, "human_score": "correct",
                             "updated_at": "2026-12-07T03:00:00+00:00"}])
    assert row["status"] == "⏸️ paused" and row["sampling"] == "25%"
    assert row["traffic"] == "application=support, source=gateway"
    assert row["scores with"].startswith("llm-rubric: xxx") and row["scores with"][-1] == "…"
    assert row["judge"] == "default" and row["compared with"] == "correct"
    assert row["scored (24 h)"] == 0 and row["mean (24 h)"] == "—"
    assert what_label({"metric": "answer_relevancy"}) == "metric answer_relevancy"
    assert what_label({"assertion": {"type": "is-json"}}) == "is-json"
    assert evaluator_rows([{"name": "a", "traffic": {}}])[0]["traffic"] == "all traffic"


def test_form_values_become_the_api_body():
    assert assertion_of("is-json", "  ") == {"type": "is-json"}
    assert assertion_of("contains", " hi ") == {"type": "contains", "value": "hi"}
    assert traffic_of({"application": " a ", "model": "", "key": "  ", "nope": "x"}) == {
        "application": "a"}


def test_agreement_figures_follow_the_score_type():
    boolean = {"data_type": "boolean", "n": 3, "traces": 3, "accuracy": 2 / 3, "kappa": 0.4,
               "confusion": {"both_pass": 1, "both_fail": 1, "judge_pass_human_fail": 1,
                             "judge_fail_human_pass": 0}}
    assert dict(agreement_metrics(boolean)) == {"Pairs": "3", "Traces": "3",
                                                "Accuracy": "66.7%", "Cohen's kappa": "0.400"}
    assert confusion_rows(boolean) == [
        {"": "judge pass", "person pass": 1, "person fail": 1},
        {"": "judge fail", "person pass": 0, "person fail": 1}]
    numeric = {"data_type": "numeric", "n": 1, "traces": 1, "pearson": None,
               "spearman": None, "mean_abs_diff": 0.25}
    assert dict(agreement_metrics(numeric))["Pearson"] == "—"
    assert dict(agreement_metrics(numeric))["Mean |difference|"] == "0.250"
    assert confusion_rows(numeric) == []


def test_score_series_per_prompt_version_and_model():
    scores = [
        {"bucket": "b1", "prompt_id": "p", "prompt_version": 2, "model": "m", "name": "polite",
         "source": "evaluator", "mean": 0.5, "count": 2},
        {"bucket": "b1", "prompt_id": None, "prompt_version": None, "model": "m",
         "name": "polite", "source": "human", "mean": 1, "count": 1},
        {"bucket": "b1", "prompt_id": "p", "prompt_version": 2, "model": "m", "name": "stars",
         "source": "human", "mean": 4, "count": 1},
    ]
    assert score_names(scores) == ["polite", "stars"]
    rows = score_series_rows(scores, "polite")
    assert [r["series"] for r in rows] == ["p v2 · m", "no prompt · m"]
    assert rows[1]["mean"] == 1.0 and rows[1]["source"] == "human"


def test_score_alert_rows():
    [row] = score_alert_rows([{
        "name": None, "score_name": "polite", "evaluator_id": "0123456789", "source":
        "evaluator", "prompt_id": "p", "prompt_version": 3, "model": None, "threshold": 0.8,
        "window_minutes": 60, "min_scores": 5, "period": "day", "webhook": None,
        "current": {"mean": 0.5, "count": 7, "below": True, "fired": False}}])
    assert row["alert"] == "polite" and row["on"] == "evaluator 01234567, prompt p v3"
    assert row["mean now"] == "0.5 (7)" and row["status"] == "⚠️ below"
    assert row["notifies"] == "event only"


def test_score_firing_rows_say_how_delivery_went():
    base = {"name": "q", "score_name": "stars", "mean": 2.5, "count": 4, "threshold": 3,
            "fired_at": "2026-12-07T10:00:00+00:00", "period_start": "2026-12-07T00:00:00"}
    rows = score_firing_rows([{**base, "delivered": True, "attempts": 1},
                              {**base, "delivered": False, "attempts": 2,
                               "last_error": "answered 503"},
                              {**base, "delivered": False, "attempts": 0}])
    assert [r["delivered"] for r in rows] == ["yes", "no (answered 503)", "event only"]
    assert rows[0]["mean"] == "2.5 (4)" and rows[0]["fired at"] == "2026-12-07 10:00:00"
