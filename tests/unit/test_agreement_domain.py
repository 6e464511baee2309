"""Judge-vs-human agreement, computed without I/O: accuracy and kappa for boolean and
categorical scores, Pearson and Spearman for numeric ones, and what is undefined."""

from __future__ import annotations

import pytest

from services.registry.domain.agreement import (
    Pair,
    agreement,
    kappa,
    pearson,
    ranks,
    spearman,
)


def _num(pairs):
    return [Pair(j, None, h, None) for j, h in pairs]


def test_pearson_and_spearman_of_known_series():
    assert pearson([1, 2, 3], [1, 3, 2]) == pytest.approx(0.5)
    assert spearman([1, 2, 3], [1, 3, 2]) == pytest.approx(0.5)
    assert pearson([1, 2, 3], [6, 4, 2]) == pytest.approx(-1.0)
    # monotone but not linear: Spearman sees a perfect order, Pearson does not
    xs, ys = [1, 2, 3, 4], [1, 4, 9, 100]
    assert spearman(xs, ys) == pytest.approx(1.0)
    assert pearson(xs, ys) == pytest.approx(0.8160, abs=1e-4)


def test_ties_share_their_mean_rank():
    assert ranks([3, 1, 1, 2]) == [4.0, 1.5, 1.5, 3.0]
    assert spearman([1, 1, 2], [1, 2, 3]) == pytest.approx(0.8660, abs=1e-4)


def test_undefined_correlations_are_none():
    assert pearson([1], [1]) is None
    assert pearson([1, 1, 1], [1, 2, 3]) is None
    assert spearman([2, 2], [1, 5]) is None


def test_kappa_is_agreement_beyond_chance():
    assert kappa([True, True, False, False], [True, False, False, False]) == pytest.approx(0.5)
    assert kappa(["a", "b"], ["a", "b"]) == pytest.approx(1.0)
    assert kappa([True, True], [True, True]) is None


def test_numeric_agreement_reports_correlations_and_mean_difference():
    out = agreement("numeric", _num([(0.2, 1), (0.9, 5), (0.5, 3), (0.4, 2)]))
    assert out["n"] == 4 and out["accuracy"] is None
    assert out["spearman"] == pytest.approx(1.0)
    assert 0.9 < out["pearson"] < 1.0
    assert out["mean_abs_diff"] == pytest.approx((0.8 + 4.1 + 2.5 + 1.6) / 4)
    one = agreement("numeric", _num([(0.2, 1)]))
    assert one["pearson"] is None and "two pairs" in one["note"]
    flat = agreement("numeric", _num([(0.5, 1), (0.5, 3)]))
    assert flat["pearson"] is None and "vary" in flat["note"]


def test_boolean_agreement_counts_pass_and_fail():
    pairs = [Pair(1.0, "pass", 1.0, "true"), Pair(0.0, "fail", 0.0, "false"),
             Pair(0.9, "fail", 1.0, "true"),   # the label decides, not the value
             Pair(0.7, None, 0.0, "false")]    # no label: pass at 0.5 and above
    out = agreement("boolean", pairs)
    assert out["accuracy"] == pytest.approx(0.5)
    assert out["confusion"] == {"both_pass": 1, "both_fail": 1, "judge_pass_human_fail": 1,
                                "judge_fail_human_pass": 1}
    assert out["kappa"] == pytest.approx(0.0)
    assert out["pearson"] is None


def test_categorical_agreement_compares_labels():
    pairs = [Pair(1.0, "kind", 1.0, "kind"), Pair(0.0, "rude", 1.0, "kind"),
             Pair(0.0, "rude", 0.0, "rude")]
    out = agreement("categorical", pairs)
    assert out["accuracy"] == pytest.approx(2 / 3)
    # a judge without labels agrees when its value is the category's number
    out = agreement("categorical", [Pair(1.0, None, 1.0, "kind"), Pair(1.0, None, 0.0, "rude")])
    assert out["accuracy"] == pytest.approx(0.5)


def test_no_pairs_says_so():
    out = agreement("boolean", [])
    assert out["n"] == 0 and out["accuracy"] is None and "no trace" in out["note"]


def test_correlations_of_extreme_scores_are_numbers_not_errors():
    """Squares of 1e200 overflowed (OverflowError) and of 1e-160 underflowed to a division
    by zero: a 500 on GET /evaluators/{id}/agreement."""
    assert pearson([0, 1e-160, 2e-160], [0, 1e-160, 2e-160]) == pytest.approx(1.0)
    assert pearson([0, 1e200, 2e200], [3, 2, 1]) == pytest.approx(-1.0)
    assert pearson([1e308, -1e308, 0], [1, -1, 0]) == pytest.approx(1.0)
    assert pearson([5e-324, 5e-324], [1, 2]) is None  # one side never varies
    assert spearman([1e300, 1e301, 1e302], [1, 2, 3]) == pytest.approx(1.0)
    out = agreement("numeric", [Pair(judge_value=1.7e308, judge_label=None,
                                     human_value=-1e15, human_label=None),
                                Pair(judge_value=0.0, judge_label=None,
                                     human_value=1e15, human_label=None)])
    assert out["pearson"] == pytest.approx(-1.0)
    assert out["mean_abs_diff"] == pytest.approx((1.7e308 + 1e15 + 1e15) / 2)
