"""Scorer metrics in summaries, comparisons, pivots and trends (pure, no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from harness.evaluation.analysis import compare_runs, metric_stats, pivot, summarize, trend
from harness.evaluation.models import CaseResult, MetricResult, Target


def ok(v: float) -> MetricResult:
    return MetricResult(status="ok", value=v)


NA = MetricResult(status="not_applicable", reason="faithfulness needs contexts")
ERR = MetricResult(status="error", reason="judge call failed")


def row(case: str, target: str = "t0", run: str = "r1", repeat: int = 0, **scores):
    return CaseResult(run_id=run, case_id=case, target_id=target, repeat=repeat,
                      status="pass", scores=scores)


def target(tid: str, version: int, model: str = "m") -> Target:
    return Target(target_id=tid, label=f"p v{version} · {model}", prompt_id="p",
                  prompt_name="p", prompt_version=version, content="x", model=model)


def test_metric_stats_count_only_values_and_never_average_in_a_zero():
    stats = metric_stats([ok(0.2), ok(1.0), ok(0.6), NA, NA, ERR])
    assert (stats.count, stats.min, stats.max, stats.p50) == (3, 0.2, 1.0, 0.6)
    assert stats.mean == pytest.approx(0.6)
    assert (stats.n_not_applicable, stats.n_errors) == (2, 1)
    empty = metric_stats([NA])
    assert (empty.count, empty.mean, empty.p50, empty.min, empty.max) == (0, None, None, None,
                                                                          None)


def test_summary_has_each_metric_per_target_and_in_total_repeats_included():
    rows = [row("c1", faithfulness=ok(1.0), bleu=ok(0.5)),
            row("c1", repeat=1, faithfulness=ok(0.0), bleu=ok(0.5)),
            row("c2", faithfulness=NA, bleu=ok(0.1)),
            row("c1", target="t1", faithfulness=ok(0.5))]
    s = summarize(rows, [target("t0", 1), target("t1", 2)])
    t0, t1 = s.targets
    assert list(t0.metrics) == ["bleu", "faithfulness"]
    assert (t0.metrics["faithfulness"].count, t0.metrics["faithfulness"].mean,
            t0.metrics["faithfulness"].n_not_applicable) == (2, 0.5, 1)
    assert t0.metrics["bleu"].p50 == 0.5 and t1.metrics["faithfulness"].mean == 0.5
    assert s.total.metrics["faithfulness"].count == 3
    assert summarize([row("c1")]).total.metrics == {}


def test_comparison_reports_metric_mean_deltas():
    before = [row("c1", exact_match=ok(1.0)), row("c2", exact_match=ok(0.0))]
    after = [row("c1", run="r2", exact_match=ok(0.0), bleu=ok(0.3)),
             row("c2", run="r2", exact_match=ok(0.0))]
    cmp_ = compare_runs(before, after)
    assert cmp_.targets[0].metric_mean_deltas == {"bleu": None, "exact_match": -0.5}
    # only metrics scored on both sides get a significance test
    assert list(cmp_.targets[0].metric_significance) == ["exact_match"]


def test_metric_significance_is_a_paired_bootstrap_per_metric():
    n = 30
    # faithfulness drops by 0.5 on every case (repeats averaged per case); bleu barely moves
    before = [row(f"c{i}", repeat=k, faithfulness=ok(0.9), bleu=ok(0.5 + (i % 3) * 0.1))
              for i in range(n) for k in range(2)]
    after = [row(f"c{i}", run="r2", repeat=k, faithfulness=ok(0.4 if k else 0.4),
                 bleu=ok(0.5 + ((i + 1) % 3) * 0.1))
             for i in range(n) for k in range(2)]
    after.append(row("c0", run="r2", repeat=2, faithfulness=NA))  # not applicable: left out
    sig = compare_runs(before, after).targets[0].metric_significance
    faith, bleu = sig["faithfulness"], sig["bleu"]
    assert faith.test == "bootstrap-paired-mean" and faith.n == n
    assert faith.statistic == pytest.approx(-0.5) and faith.significant
    assert faith.ci_high == pytest.approx(-0.5)
    assert bleu.n == n and abs(bleu.statistic) < 0.05 and not bleu.significant
    assert bleu.ci_low < 0 < bleu.ci_high
    # not applicable on one side for every case: nothing to pair, and it says so
    one_sided = compare_runs([row("c1", bleu=ok(0.2))], [row("c1", run="r2", bleu=NA)])
    empty = one_sided.targets[0].metric_significance["bleu"]
    assert (empty.n, empty.significant) == (0, False) and "no paired cases" in empty.note


def test_pivot_cells_and_trend_points_carry_metrics():
    rows = [row("c1", bleu=ok(0.4)), row("c1", target="t1", bleu=ok(0.8))]
    targets = [target("t0", 1), target("t1", 2)]
    cells = pivot(rows, targets).cells
    assert [c.metrics["bleu"].mean for c in cells] == [0.4, 0.8]
    points = trend([("r1", datetime(2026, 1, 1, tzinfo=UTC), targets, rows)], "p")
    assert [(p.prompt_version, p.metrics["bleu"].max) for p in points] == [(1, 0.4), (2, 0.8)]
