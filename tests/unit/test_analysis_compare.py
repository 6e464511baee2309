"""Run comparison: case changes, target pairing and significance (pure, no I/O)."""

from __future__ import annotations

import json
import math
import sys

import pytest

from harness.evaluation.analysis import Comparison, compare_runs
from harness.evaluation.models import CaseResult, Target
from harness.evaluation.stats import (
    _exact_binom_p,
    bootstrap_mean_interval,
    mcnemar_exact_p,
    smallest_attainable_p,
)


def res(case_id: str, status: str = "pass", target_id: str = "t0", repeat: int = 0,
        run_id: str = "before", **kw) -> CaseResult:
    return CaseResult(run_id=run_id, case_id=case_id, target_id=target_id, repeat=repeat,
                      status=status, **kw)


def after(case_id: str, status: str = "pass", target_id: str = "t0", **kw) -> CaseResult:
    return res(case_id, status, target_id, run_id="after", **kw)


def tgt(target_id: str, label: str) -> Target:
    return Target(target_id=target_id, label=label, content="x", model="m")


def change_of(cmp: Comparison, case_id: str, target_key: str = "t0"):
    [ch] = [c for c in cmp.changes if c.case_id == case_id and c.target_key == target_key]
    return ch


# ------------------------------------------------------------------ stats helpers


@pytest.mark.parametrize("b,c", [(0, 1), (1, 0), (3, 3), (20, 1), (1, 20), (7, 2), (0, 12),
                                 (50, 45), (300, 250)])
def test_exact_binomial_fallback_agrees_with_scipy(b, c):
    scipy_stats = pytest.importorskip("scipy.stats")
    expected = scipy_stats.binomtest(b, b + c, 0.5).pvalue
    assert _exact_binom_p(b, c) == pytest.approx(expected, rel=1e-9)
    assert mcnemar_exact_p(b, c) == pytest.approx(expected, rel=1e-9)


def test_exact_binomial_known_values():
    assert mcnemar_exact_p(0, 0) == 1.0
    assert _exact_binom_p(0, 0) == 1.0
    assert _exact_binom_p(5, 5) == 1.0
    assert _exact_binom_p(0, 6) == pytest.approx(2 / 64)
    assert _exact_binom_p(20, 1) == pytest.approx(2 * 22 / 2**21)
    assert 0 < _exact_binom_p(5000, 4000) < 1e-20      # big counts stay finite
    with pytest.raises(ValueError):
        mcnemar_exact_p(-1, 2)


def test_mcnemar_without_scipy_uses_exact_integers(monkeypatch):
    monkeypatch.setitem(sys.modules, "scipy.stats", None)   # makes the import fail
    assert mcnemar_exact_p(20, 1) == pytest.approx(2 * 22 / 2**21)
    assert mcnemar_exact_p(4, 4) == 1.0


def test_smallest_attainable_p():
    assert smallest_attainable_p(0) == 1.0
    assert smallest_attainable_p(1) == 1.0
    assert smallest_attainable_p(5) == pytest.approx(1 / 16)
    assert smallest_attainable_p(6) == pytest.approx(1 / 32)


def test_bootstrap_interval_is_deterministic_per_seed():
    diffs = [0.1, -0.3, 0.5, 0.2, 0.0, -0.1, 0.4, 0.3]
    one = bootstrap_mean_interval(diffs, seed=7)
    assert one == bootstrap_mean_interval(diffs, seed=7)
    assert one != bootstrap_mean_interval(diffs, seed=8)
    low, high = one
    assert low < sum(diffs) / len(diffs) < high
    with pytest.raises(ValueError):
        bootstrap_mean_interval([])
    with pytest.raises(ValueError):
        bootstrap_mean_interval([1.0], resamples=0)


# ------------------------------------------------------------------ changes


def test_case_changes_and_counts():
    before = [
        res("c1", "pass", output="a", score=1.0),
        res("c2", "pass", output="b", score=1.0),
        res("c3", "fail", output="c", score=0.0),
        res("c4", "pass", output="d", score=1.0),
        res("c5", "fail", output="e"),
        res("c6", "pass", output="gone"),
    ]
    later = [
        after("c1", "pass", output="a", score=1.0),       # unchanged
        after("c2", "fail", output="b2", score=0.0),      # regressed
        after("c3", "pass", output="c2", score=1.0),      # fixed
        after("c4", "pass", output="D", score=0.9),       # changed_output
        after("c5", "error", error="timeout"),            # fail -> error: changed_output
        after("c7", "pass", output="new"),                # added
    ]
    cmp = compare_runs(before, later)
    assert cmp.run_ids == ("before", "after")
    assert cmp.counts == {"regressed": 1, "fixed": 1, "unchanged": 1, "changed_output": 2,
                          "added": 1, "removed": 1}
    assert [c.case_id for c in cmp.changes] == ["c1", "c2", "c3", "c4", "c5", "c6", "c7"]
    reg = change_of(cmp, "c2")
    assert (reg.change, reg.before, reg.after) == ("regressed", "pass", "fail")
    assert (reg.before_output, reg.after_output) == ("b", "b2")
    assert (reg.before_score, reg.after_score) == (1.0, 0.0)
    assert change_of(cmp, "c3").change == "fixed"
    assert change_of(cmp, "c4").change == "changed_output"
    err = change_of(cmp, "c5")
    assert (err.change, err.before, err.after) == ("changed_output", "fail", "error")
    removed = change_of(cmp, "c6")
    assert (removed.change, removed.before, removed.after) == ("removed", "pass", None)
    assert removed.before_output == "gone" and removed.after_output is None
    added = change_of(cmp, "c7")
    assert (added.change, added.before, added.after) == ("added", None, "pass")
    [tc] = cmp.targets
    assert tc.target_key == "t0"
    # rates cover the 5 shared cases only: c6 (before only) and c7 (after only) are listed
    assert tc.before.cases == 5 and tc.after.cases == 5
    assert tc.pass_rate_delta == pytest.approx(0.0)    # 3/5 before, 3/5 after
    assert tc.pass_fail.n == 5          # c1..c5 are paired
    assert (cmp.shared_cases, cmp.before_only_cases, cmp.after_only_cases) == (5, 1, 1)
    assert cmp.warnings == ["compared on the 5 cases both runs have; 1 only before, 1 only "
                            "after are listed but not counted in the rates"]


def test_rates_cover_shared_cases_only():
    """An added case that passes must not look like an improvement of the version."""
    before = [res("c1", "pass"), res("c2", "fail")]
    later = [after("c1", "pass"), after("c2", "fail"), after("c3", "pass"),
             after("c4", "pass")]
    [tc] = compare_runs(before, later).targets
    assert tc.before.pass_rate == tc.after.pass_rate == pytest.approx(0.5)
    assert tc.pass_rate_delta == pytest.approx(0.0)


def test_runs_without_a_common_case_have_no_delta():
    """Two runs over unrelated datasets once showed "+26.7 pts": there is nothing to
    compare, and the comparison says so instead of inventing a delta."""
    before = [res(f"a{i}", "pass" if i < 4 else "fail") for i in range(10)]
    later = [after(f"b{i}", "pass" if i < 7 else "fail") for i in range(10)]
    cmp = compare_runs(before, later)
    [tc] = cmp.targets
    assert tc.pass_rate_delta is None and tc.case_pass_rate_delta is None
    assert cmp.shared_cases == 0 and cmp.warnings == [
        "the runs have no case in common: nothing to compare"]


def test_repeats_use_case_threshold_and_first_repeat_output():
    before = [res("c1", "pass", repeat=0, output="x"), res("c1", "pass", repeat=1, output="y"),
              res("c2", "pass", repeat=1, output="z1"), res("c2", "pass", repeat=0, output="z")]
    later = [after("c1", "pass", repeat=1, output="y"), after("c1", "fail", repeat=0, output="x"),
             after("c2", "pass", repeat=0, output="z"), after("c2", "pass", repeat=1, output="q")]
    strict = compare_runs(before, later)
    c1 = change_of(strict, "c1")
    assert (c1.change, c1.before, c1.after) == ("regressed", "pass", "fail")
    assert (c1.before_pass_rate, c1.after_pass_rate) == (1.0, 0.5)
    assert (c1.before_output, c1.after_output) == ("x", "x")  # repeat 0, whatever the order
    assert change_of(strict, "c2").change == "unchanged"      # later repeats' output ignored
    lenient = compare_runs(before, later, case_threshold=0.5)
    assert change_of(lenient, "c1").change == "unchanged"
    assert change_of(lenient, "c1").after == "pass"


def test_empty_runs():
    cmp = compare_runs([], [])
    assert cmp.run_ids == ("", "")
    assert cmp.targets == [] and cmp.changes == []
    assert set(cmp.counts.values()) == {0} and len(cmp.counts) == 6


def test_everything_added_against_an_empty_baseline():
    cmp = compare_runs([], [after("c1"), after("c2", "fail")])
    assert cmp.counts["added"] == 2 and cmp.targets == []


# ------------------------------------------------------------------ pairing


def test_targets_pair_by_id_and_unpaired_targets_add_or_remove():
    before = [res("c1", target_id="t0"), res("c1", target_id="t1")]
    later = [after("c1", target_id="t0"), after("c1", target_id="t2"),
             after("c2", target_id="t2")]
    cmp = compare_runs(before, later, before_targets=[tgt("t0", "old"), tgt("t1", "B")],
                       after_targets=[tgt("t0", "new"), tgt("t2", "C")])
    assert [t.target_key for t in cmp.targets] == ["t0"]
    assert (cmp.targets[0].before.label, cmp.targets[0].after.label) == ("old", "new")
    assert [(c.target_key, c.case_id, c.change) for c in cmp.changes] == [
        ("t0", "c1", "unchanged"), ("t1", "c1", "removed"),
        ("t2", "c1", "added"), ("t2", "c2", "added")]


def test_pair_targets_maps_before_to_after_ids():
    before = [res("c1", "pass", target_id="t1"), res("c2", "pass", target_id="t1"),
              res("c1", "fail", target_id="t0")]
    later = [after("c1", "fail", target_id="t0"), after("c2", "pass", target_id="t0")]
    cmp = compare_runs(before, later, pair_targets={"t1": "t0"})
    [tc] = cmp.targets
    assert tc.target_key == "t1->t0"
    assert (tc.before_target_id, tc.after_target_id) == ("t1", "t0")
    assert tc.before.target_id == "t1" and tc.after.target_id == "t0"
    assert tc.pass_rate_delta == pytest.approx(-0.5)
    assert [(c.case_id, c.change) for c in cmp.changes] == [("c1", "regressed"),
                                                            ("c2", "unchanged")]
    assert all(c.target_key == "t1->t0" for c in cmp.changes)   # before t0 left out


def test_pair_targets_identity_and_unknown_ids():
    before = [res("c1", target_id="t0")]
    later = [after("c1", "fail", target_id="t0")]
    cmp = compare_runs(before, later, pair_targets={"t0": "t0"})
    assert cmp.targets[0].target_key == "t0"
    with pytest.raises(ValueError, match="before run has no target t5"):
        compare_runs(before, later, pair_targets={"t5": "t0"})
    with pytest.raises(ValueError, match="after run has no target t9"):
        compare_runs(before, later, pair_targets={"t0": "t9"})


def test_pair_targets_may_name_targets_without_results():
    cmp = compare_runs([], [after("c1")], before_targets=[tgt("t0", "A")],
                       pair_targets={"t0": "t0"})
    [tc] = cmp.targets
    assert tc.before.results == 0 and tc.pass_rate_delta is None
    assert tc.pass_fail.n == 0 and tc.pass_fail.note == "no paired cases"
    assert cmp.counts["added"] == 1


# ------------------------------------------------------------------ significance


def test_mcnemar_with_no_discordant_pairs():
    before = [res(f"c{i}", "pass" if i % 2 else "fail") for i in range(10)]
    later = [after(f"c{i}", "pass" if i % 2 else "fail") for i in range(10)]
    sig = compare_runs(before, later).targets[0].pass_fail
    assert sig.test == "mcnemar-exact"
    assert (sig.n, sig.p_value, sig.significant) == (10, 1.0, False)
    assert "no discordant pairs" in sig.note


def test_mcnemar_clear_regression_is_significant():
    before, later = [], []
    for i in range(20):                       # 20 pass -> fail
        before.append(res(f"r{i}", "pass"))
        later.append(after(f"r{i}", "fail"))
    before.append(res("f0", "fail"))          # 1 fail -> pass
    later.append(after("f0", "pass"))
    for i in range(30):                       # 30 concordant passes
        before.append(res(f"k{i}", "pass"))
        later.append(after(f"k{i}", "pass"))
    cmp = compare_runs(before, later)
    sig = cmp.targets[0].pass_fail
    assert sig.n == 51 and sig.statistic == 20.0
    assert sig.p_value == pytest.approx(2 * 22 / 2**21)
    assert sig.p_value < 1e-4 and sig.significant
    assert "b=20" in sig.note and "c=1" in sig.note
    assert cmp.counts["regressed"] == 20 and cmp.counts["fixed"] == 1
    assert compare_runs(before, later, alpha=1e-6).targets[0].pass_fail.significant is False


def test_mcnemar_too_few_discordant_pairs_says_so():
    before = [res("c1", "pass"), res("c2", "pass"), res("c3", "pass")]
    later = [after("c1", "fail"), after("c2", "fail"), after("c3", "fail")]
    sig = compare_runs(before, later).targets[0].pass_fail
    assert sig.p_value == pytest.approx(0.25)
    assert not sig.significant
    assert "too few discordant pairs" in sig.note


def test_mcnemar_counts_errors_as_not_passing():
    before = [res(f"c{i}", "pass") for i in range(8)]
    later = [after(f"c{i}", "error") for i in range(8)]
    sig = compare_runs(before, later).targets[0].pass_fail
    assert sig.statistic == 8.0 and sig.significant


def _scored(n: int, shift: float, noise: list[float] | None = None):
    before, later = [], []
    for i in range(n):
        base = 0.3 + 0.4 * ((i * 37) % 11) / 10
        jitter = noise[i % len(noise)] if noise else 0.0
        before.append(res(f"c{i}", score=base))
        later.append(after(f"c{i}", score=base + shift + jitter))
    return before, later


def test_bootstrap_interval_excludes_zero_for_a_consistent_shift():
    before, later = _scored(30, 0.1, noise=[0.02, -0.01, 0.0, 0.015, -0.02])
    cmp = compare_runs(before, later)
    sig = cmp.targets[0].score
    assert sig.test == "bootstrap-paired-mean" and sig.n == 30
    assert sig.statistic == pytest.approx(0.1 + (0.02 - 0.01 + 0.015 - 0.02) / 5)
    assert 0 < sig.ci_low < sig.statistic < sig.ci_high
    assert sig.significant and sig.p_value is None
    assert cmp.targets[0].mean_score_delta == pytest.approx(sig.statistic)


def test_bootstrap_interval_covers_zero_for_noise():
    before, later = _scored(30, 0.0, noise=[0.2, -0.2, 0.1, -0.1, 0.05, -0.05])
    sig = compare_runs(before, later).targets[0].score
    assert sig.ci_low < 0 < sig.ci_high
    assert not sig.significant


def test_bootstrap_is_deterministic_with_seed():
    before, later = _scored(25, 0.02, noise=[0.3, -0.25, 0.1, -0.05, 0.0])
    a = compare_runs(before, later, seed=3).targets[0].score
    b = compare_runs(before, later, seed=3).targets[0].score
    c = compare_runs(before, later, seed=4).targets[0].score
    assert (a.ci_low, a.ci_high) == (b.ci_low, b.ci_high)
    assert (a.ci_low, a.ci_high) != (c.ci_low, c.ci_high)
    few = compare_runs(before, later, resamples=50).targets[0].score
    assert "50 resamples" in few.note


def test_bootstrap_not_computable_cases():
    no_scores = compare_runs([res("c1")], [after("c1")]).targets[0].score
    assert no_scores.n == 0 and no_scores.ci_low is None and not no_scores.significant
    assert "no paired cases with a score" in no_scores.note
    one = compare_runs([res("c1", score=0.2)], [after("c1", score=0.9)]).targets[0].score
    assert one.n == 1 and one.statistic == pytest.approx(0.7) and one.ci_low is None
    assert "too few paired cases" in one.note and not one.significant


def test_bootstrap_pairs_mean_scores_across_repeats_and_skips_errors():
    before = [res("c1", score=0.2, repeat=0), res("c1", score=0.4, repeat=1),
              res("c2", score=0.5), res("c3", score=0.5)]
    later = [after("c1", score=0.6, repeat=0), after("c1", score=0.8, repeat=1),
             after("c2", score=0.7), after("c3", "error", score=0.0)]
    sig = compare_runs(before, later).targets[0].score
    assert sig.n == 2                                  # c3 has no usable score after
    assert sig.statistic == pytest.approx((0.4 + 0.2) / 2)


def test_equal_differences_give_a_point_interval():
    before = [res(f"c{i}", score=0.5) for i in range(5)]
    same = compare_runs(before, [after(f"c{i}", score=0.5) for i in range(5)]).targets[0].score
    assert (same.ci_low, same.ci_high) == (0.0, 0.0) and not same.significant
    assert "single point" in same.note


def test_compare_validates_parameters():
    with pytest.raises(ValueError):
        compare_runs([], [], alpha=0)
    with pytest.raises(ValueError):
        compare_runs([], [], resamples=0)
    with pytest.raises(ValueError):
        compare_runs([], [], case_threshold=2)


def test_comparison_serializes_to_json():
    before, later = _scored(5, 0.1)
    cmp = compare_runs(before, later, resamples=100)
    data = json.loads(cmp.model_dump_json())
    assert data["run_ids"] == ["before", "after"]
    assert data["targets"][0]["pass_fail"]["test"] == "mcnemar-exact"
    assert all(not (isinstance(v, float) and math.isnan(v))
               for v in data["targets"][0]["score"].values())
    assert Comparison.model_validate(data) == cmp
