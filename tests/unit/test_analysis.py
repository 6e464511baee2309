"""Summaries, percentiles, pivots and trends of evaluation runs (pure, no I/O)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from harness.evaluation.analysis import (
    RunSummary,
    percentile,
    pivot,
    prompt_label,
    summarize,
    trend,
)
from harness.evaluation.models import CaseResult, Target


def res(case_id: str, status: str = "pass", target_id: str = "t0", repeat: int = 0,
        run_id: str = "r1", **kw) -> CaseResult:
    return CaseResult(run_id=run_id, case_id=case_id, target_id=target_id, repeat=repeat,
                      status=status, **kw)


def tgt(target_id: str, model: str = "openai/gpt-4o-mini", prompt_name: str | None = "greet",
        prompt_version: int | None = 1, prompt_id: str | None = "p1", **kw) -> Target:
    label = kw.pop("label", None) or f"{prompt_name} v{prompt_version} · {model}"
    return Target(target_id=target_id, label=label, prompt_id=prompt_id,
                  prompt_name=prompt_name, prompt_version=prompt_version, content="Hi",
                  model=model, **kw)


# ------------------------------------------------------------------ percentile


def test_percentile_matches_linear_interpolation():
    values = [15, 20, 35, 40, 50]
    assert percentile(values, 0) == 15
    assert percentile(values, 100) == 50
    assert percentile(values, 50) == 35
    assert percentile(values, 40) == pytest.approx(29.0)   # pos 1.6 -> 20 + 0.6 * 15
    assert percentile(values, 95) == pytest.approx(48.0)   # pos 3.8 -> 40 + 0.8 * 10
    assert percentile([1, 2, 3, 4], 50) == pytest.approx(2.5)


def test_percentile_matches_numpy_when_available():
    np = pytest.importorskip("numpy")
    values = [3.2, 1.0, 9.5, 4.4, 4.4, 7.0, 0.1]
    for q in (0, 5, 25, 50, 73.5, 95, 99, 100):
        assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)))


def test_percentile_edges():
    assert percentile([], 50) is None
    assert percentile([7.5], 95) == 7.5
    assert percentile(iter([2, 1]), 50) == 1.5
    with pytest.raises(ValueError):
        percentile([1], 101)
    with pytest.raises(ValueError):
        percentile([1], -1)


# ------------------------------------------------------------------ summarize


def test_empty_run_has_no_rates_and_fails():
    s = summarize([])
    assert s.targets == []
    assert s.total.target_id == "all"
    assert s.total.results == 0 and s.total.cases == 0
    assert s.total.pass_rate is None and s.total.case_pass_rate is None
    assert s.total.mean_score is None and s.total.latency_p95_ms is None
    assert s.total.cost_usd is None and s.total.cost_unknown == 0
    assert s.verdict == "fail"
    assert summarize([], min_pass_rate=0.0).verdict == "fail"


def test_targets_without_results_get_empty_summaries_in_given_order():
    targets = [tgt("t1", label="B"), tgt("t0", label="A")]
    s = summarize([res("c1", target_id="t0")], targets)
    assert [t.target_id for t in s.targets] == ["t1", "t0"]
    assert [t.label for t in s.targets] == ["B", "A"]
    assert s.targets[0].results == 0 and s.targets[0].pass_rate is None
    assert s.targets[1].pass_rate == 1.0


def test_unknown_target_ids_follow_in_natural_order_with_no_label():
    rows = [res("c1", target_id=t) for t in ("t10", "t2", "t1")]
    s = summarize(rows, [tgt("t2", label="two")])
    assert [t.target_id for t in s.targets] == ["t2", "t1", "t10"]
    assert [t.label for t in s.targets] == ["two", None, None]


def test_single_repeat_counts_and_rates():
    rows = [
        res("c1", "pass", score=1.0, latency_ms=100, prompt_tokens=10, completion_tokens=5,
            total_tokens=15, cost_usd=0.001, named_scores={"faithfulness": 0.9}),
        res("c2", "fail", score=0.25, latency_ms=200, prompt_tokens=12, completion_tokens=3,
            cost_usd=0.002, named_scores={"faithfulness": 0.5, "answer_relevancy": 0.4}),
        res("c3", "error", score=0.0, latency_ms=300, error="timeout"),
        res("c4", "pass", latency_ms=400, cost_usd=0.0),
    ]
    s = summarize(rows, [tgt("t0")])
    t = s.targets[0]
    assert (t.cases, t.results, t.passed, t.failed, t.errors) == (4, 4, 2, 1, 1)
    assert t.pass_rate == 0.5 and t.case_pass_rate == 0.5
    assert t.mean_score == pytest.approx(0.625)       # the error's score is excluded
    assert t.latency_p50_ms == pytest.approx(250.0)
    assert t.latency_p95_ms == pytest.approx(385.0)
    assert (t.prompt_tokens, t.completion_tokens) == (22, 8)
    assert t.total_tokens == 30                       # missing total = prompt + completion
    assert t.cost_usd == pytest.approx(0.003) and t.cost_unknown == 1
    assert t.flaky_cases == []
    assert t.named_scores == {"answer_relevancy": pytest.approx(0.4),
                              "faithfulness": pytest.approx(0.7)}
    assert s.total.model_dump(exclude={"target_id", "label"}) == t.model_dump(
        exclude={"target_id", "label"})
    assert s.verdict == "fail"


def test_all_errors():
    rows = [res(f"c{i}", "error", error="boom", cost_usd=None) for i in range(3)]
    t = summarize(rows).targets[0]
    assert (t.passed, t.failed, t.errors) == (0, 0, 3)
    assert t.pass_rate == 0.0 and t.case_pass_rate == 0.0
    assert t.mean_score is None and t.latency_p50_ms is None
    assert t.cost_usd is None and t.cost_unknown == 3
    assert summarize(rows).verdict == "fail"
    assert summarize(rows, min_pass_rate=0.0).verdict == "pass"


def test_costs_known_unknown_and_mixed():
    all_unknown = summarize([res("c1"), res("c2")]).total
    assert all_unknown.cost_usd is None and all_unknown.cost_unknown == 2
    mixed = summarize([res("c1", cost_usd=0.5), res("c2"), res("c3", cost_usd=0.25)]).total
    assert mixed.cost_usd == pytest.approx(0.75) and mixed.cost_unknown == 1
    free = summarize([res("c1", cost_usd=0.0)]).total
    assert free.cost_usd == 0.0 and free.cost_unknown == 0   # known zero is not unknown


def test_repeats_flaky_cases_and_case_threshold():
    rows = [
        # c1: 3/3 pass; c2: 2/3 pass (flaky); c3: 0/3 (fail + error: not flaky)
        *(res("c1", "pass", repeat=i) for i in range(3)),
        res("c2", "pass", repeat=0), res("c2", "fail", repeat=1), res("c2", "pass", repeat=2),
        res("c3", "fail", repeat=0), res("c3", "error", repeat=1), res("c3", "fail", repeat=2),
    ]
    strict = summarize(rows)
    t = strict.targets[0]
    assert (t.cases, t.results, t.passed, t.failed, t.errors) == (3, 9, 5, 3, 1)
    assert t.pass_rate == pytest.approx(5 / 9)
    assert t.case_pass_rate == pytest.approx(1 / 3)
    assert t.flaky_cases == ["c2"]
    lenient = summarize(rows, case_threshold=2 / 3).targets[0]
    assert lenient.case_pass_rate == pytest.approx(2 / 3)
    assert summarize(rows, case_threshold=0.67).targets[0].case_pass_rate == pytest.approx(1 / 3)
    assert summarize(rows, case_threshold=0.0).targets[0].case_pass_rate == 1.0


def test_verdict_with_global_threshold():
    rows = [res("c1"), res("c2"), res("c3"), res("c4", "fail")]
    assert summarize(rows).verdict == "fail"                       # default: every case
    assert summarize(rows, min_pass_rate=0.75).verdict == "pass"
    assert summarize(rows, min_pass_rate=0.76).verdict == "fail"
    s = summarize(rows[:3])
    assert s.verdict == "pass" and s.threshold is None
    s = summarize(rows, min_pass_rate=0.5, case_threshold=0.5)
    assert s.threshold == 0.5 and s.case_threshold == 0.5


def test_verdict_combines_per_case_and_global_thresholds():
    rows = [
        res("c1", "pass", repeat=0), res("c1", "fail", repeat=1),
        res("c2", "pass", repeat=0), res("c2", "pass", repeat=1),
    ]
    assert summarize(rows).verdict == "fail"
    assert summarize(rows, case_threshold=0.5).verdict == "pass"
    assert summarize(rows, min_pass_rate=0.5).verdict == "pass"


def test_thresholds_are_validated():
    with pytest.raises(ValueError):
        summarize([], case_threshold=1.5)
    with pytest.raises(ValueError):
        summarize([], min_pass_rate=-0.1)


def test_total_is_over_case_target_cells():
    rows = [
        res("c1", target_id="t0"), res("c2", target_id="t0"),
        res("c1", target_id="t1"), res("c2", "fail", target_id="t1"),
        res("c3", "pass", target_id="t1", repeat=0), res("c3", "fail", target_id="t1", repeat=1),
    ]
    s = summarize(rows)
    assert [t.case_pass_rate for t in s.targets] == [1.0, pytest.approx(1 / 3)]
    assert s.total.cases == 3              # distinct case ids
    assert s.total.results == 6
    assert s.total.case_pass_rate == pytest.approx(3 / 5)   # 5 cells, 3 pass
    assert s.total.flaky_cases == ["c3"]
    assert s.total.label == "all targets"
    assert summarize(rows, min_pass_rate=0.6).verdict == "pass"


def test_redelivered_rows_count_once_last_wins():
    rows = [res("c1", "fail"), res("c1", "pass"), res("c2", "pass")]
    t = summarize(rows).targets[0]
    assert (t.results, t.passed, t.failed) == (2, 2, 0)


def test_flaky_cases_sorted_naturally():
    rows = []
    for cid in ("c10", "c2", "c1"):
        rows += [res(cid, "pass", repeat=0), res(cid, "fail", repeat=1)]
    assert summarize(rows).targets[0].flaky_cases == ["c1", "c2", "c10"]


def test_summary_serializes_to_json():
    s = summarize([res("c1", score=0.5, cost_usd=0.1)], [tgt("t0")])
    data = json.loads(s.model_dump_json())
    assert data["verdict"] == "pass"
    assert data["total"]["target_id"] == "all"
    assert RunSummary.model_validate(data) == s


# ------------------------------------------------------------------ pivot


def test_prompt_label_for_prompts_and_applications():
    assert prompt_label(tgt("t0", prompt_name="greet", prompt_version=3)) == "greet v3"
    assert prompt_label(tgt("t0", prompt_name="greet", prompt_version=None)) == "greet"
    app = tgt("t0", prompt_name="greet", prompt_version=2, application_id="a1",
              label="support-bot · openai/gpt-4o-mini")
    assert prompt_label(app) == "support-bot"
    bare = tgt("t0", prompt_name=None, prompt_version=None, prompt_id=None, label="raw text")
    assert prompt_label(bare) == "raw text"


def test_pivot_prompts_by_models():
    targets = [
        tgt("t0", model="m-a", prompt_version=1),
        tgt("t1", model="m-b", prompt_version=1),
        tgt("t2", model="m-a", prompt_version=2),
        tgt("t3", model="m-b", prompt_version=2),
    ]
    rows = [
        res("c1", "pass", "t0", score=1.0, latency_ms=10, cost_usd=0.1),
        res("c2", "fail", "t0", score=0.0, latency_ms=20, cost_usd=0.1),
        res("c1", "pass", "t1", latency_ms=30),
        res("c2", "pass", "t1", latency_ms=40, cost_usd=0.2),
        res("c1", "fail", "t2"), res("c2", "fail", "t2"),
    ]
    p = pivot(rows, targets)
    assert p.prompts == ["greet v1", "greet v2"]
    assert p.models == ["m-a", "m-b"]
    cells = {(c.prompt, c.model): c for c in p.cells}
    assert len(cells) == 4
    a1 = cells[("greet v1", "m-a")]
    assert (a1.pass_rate, a1.mean_score, a1.results) == (0.5, 0.5, 2)
    assert a1.latency_p95_ms == pytest.approx(19.5)
    assert a1.cost_usd == pytest.approx(0.2) and a1.cost_unknown == 0
    b1 = cells[("greet v1", "m-b")]
    assert b1.pass_rate == 1.0 and b1.cost_usd == pytest.approx(0.2) and b1.cost_unknown == 1
    assert cells[("greet v2", "m-a")].pass_rate == 0.0
    empty = cells[("greet v2", "m-b")]
    assert empty.results == 0 and empty.pass_rate is None and empty.cost_usd is None


def test_pivot_merges_targets_sharing_prompt_and_model_and_keeps_strays():
    targets = [tgt("t0", model="m"), tgt("t1", model="m", params={"temperature": 1.0})]
    rows = [res("c1", "pass", "t0"), res("c1", "fail", "t1"),
            res("c1", "pass", "t9", model="other")]
    p = pivot(rows, targets)
    assert p.prompts == ["greet v1", "t9"] and p.models == ["m", "other"]
    merged = p.cells[0]
    assert merged.target_ids == ["t0", "t1"] and merged.results == 2
    assert merged.pass_rate == 0.5 and merged.case_pass_rate == 0.5
    assert p.cells[1].target_ids == ["t9"]


def test_pivot_empty():
    p = pivot([], [])
    assert (p.prompts, p.models, p.cells) == ([], [], [])


# ------------------------------------------------------------------ trend


def test_trend_orders_by_time_and_filters_prompt():
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    run_a = ("ra", t0 + timedelta(days=2),
             [tgt("t0", prompt_version=2, model="m1"), tgt("t1", prompt_version=2, model="m2")],
             [res("c1", "pass", "t0", run_id="ra", score=1.0),
              res("c1", "fail", "t1", run_id="ra", score=0.0)])
    run_b = ("rb", t0,
             [tgt("t0", prompt_version=1, model="m1"),
              tgt("t1", prompt_id="other", prompt_name="x", model="m1")],
             [res("c1", "fail", "t0", run_id="rb", score=0.2),
              res("c2", "pass", "t0", run_id="rb", score=0.8),
              res("c1", "pass", "t1", run_id="rb")])
    run_c = ("rc", t0 + timedelta(days=1), [tgt("t0", prompt_version=1, model="m1")], [])
    points = trend([run_a, run_b, run_c], "p1")
    assert [(p.run_id, p.target_id) for p in points] == [
        ("rb", "t0"), ("rc", "t0"), ("ra", "t0"), ("ra", "t1")]
    first = points[0]
    assert (first.prompt_version, first.model, first.results) == (1, "m1", 2)
    assert first.pass_rate == 0.5 and first.mean_score == pytest.approx(0.5)
    assert points[1].results == 0 and points[1].pass_rate is None
    assert [p.prompt_version for p in points] == [1, 1, 2, 2]
    assert [p.model for p in points[2:]] == ["m1", "m2"]
    assert trend([run_a], "missing") == []
    assert trend([], "p1") == []


def test_a_summary_does_not_read_the_fields_callers_may_leave_out():
    from harness.evaluation.analysis import SUMMARY_UNUSED
    from harness.evaluation.models import MetricResult

    full = []
    for i in range(12):
        status = ("pass", "fail", "error")[i % 3]
        full.append(res(f"c{i % 5}", status, target_id=f"t{i % 2}", repeat=i // 5,
                        score=None if status == "error" else (i % 4) / 3,
                        output=f"answer {i}" * 20, rendered_prompt=[{"role": "user",
                                                                     "content": f"q{i}"}],
                        assertions=[{"type": "contains", "pass": status == "pass"}],
                        reason=f"why {i}", error="boom" if status == "error" else None,
                        latency_ms=10.0 * i, prompt_tokens=i, completion_tokens=2 * i,
                        total_tokens=3 * i, cost_usd=0.001 * i, named_scores={"n": i / 12},
                        scores={"faithfulness": MetricResult(status="ok", value=i / 12)}))
    slim = [CaseResult.model_validate({k: v for k, v in r.model_dump().items()
                                       if k not in SUMMARY_UNUSED}) for r in full]
    targets = [tgt("t0"), tgt("t1", model="m2")]
    assert summarize(slim, targets) == summarize(full, targets)
    assert summarize(slim, targets, min_pass_rate=0.3) == summarize(full, targets,
                                                                    min_pass_rate=0.3)
