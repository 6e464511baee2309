"""Pure analysis of evaluation runs: summaries, run comparison, pivots and trends.

Everything here takes lists of :class:`CaseResult` (and :class:`Target` where labels are
needed), does no I/O, and returns pydantic models that serialize to JSON for the REST API.

Conventions
-----------
- A *cell* is one case on one target; with ``repeat: N`` it has N result rows.
- A cell's pass rate is ``passed rows / rows``; the cell (the case) *passes* when that rate
  is ``>= case_threshold`` (default 1.0: every repeat passes). Errors never pass.
- A cell's status (used for comparisons) is ``"pass"`` when it passes, ``"error"`` when every
  row errored, ``"fail"`` otherwise. With a single repeat this is the row's own status.
- Rows recorded twice for the same (run, target, case, repeat) — at-least-once delivery —
  count once (the last one wins).
- Case and target ids are ordered "naturally" (``c2`` before ``c10``); targets passed in
  ``targets`` keep their given order and come first.
- Scorer metrics (``CaseResult.scores``) are summarized per metric over rows (repeats
  included): values of "ok" scores make the distribution; "not_applicable" and "error"
  scores are counted, never averaged in as 0.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from harness.evaluation.models import CaseResult, MetricResult, Status, Target
from harness.evaluation.stats import (
    bootstrap_mean_interval,
    mcnemar_exact_p,
    percentile,
    smallest_attainable_p,
)

__all__ = [
    "CaseChange",
    "Comparison",
    "MetricStats",
    "Pivot",
    "PivotCell",
    "RunSummary",
    "Significance",
    "TargetComparison",
    "TargetSummary",
    "TrendPoint",
    "compare_runs",
    "metric_stats",
    "percentile",
    "pivot",
    "prompt_label",
    "summarize",
    "trend",
]

ALL_TARGETS = "all"
ChangeKind = Literal["regressed", "fixed", "unchanged", "changed_output", "added", "removed"]
CHANGE_KINDS: tuple[str, ...] = (
    "regressed", "fixed", "unchanged", "changed_output", "added", "removed",
)
_EPS = 1e-9


# --------------------------------------------------------------------------- models


class MetricStats(BaseModel):
    """The distribution of one scorer metric over result rows."""

    count: int = 0                      # rows with a value (status "ok")
    mean: float | None = None
    p50: float | None = None            # linear interpolation, like the latency percentiles
    min: float | None = None
    max: float | None = None
    n_not_applicable: int = 0           # rows lacking what the metric needs
    n_errors: int = 0                   # rows whose score could not be computed


class TargetSummary(BaseModel):
    """Aggregates over the rows of one target (or of the whole run for ``target_id="all"``)."""

    target_id: str
    label: str | None = None
    cases: int = 0                      # distinct case ids
    results: int = 0                    # rows, repeats included
    passed: int = 0
    failed: int = 0
    errors: int = 0
    pass_rate: float | None = None      # passed / rows
    case_pass_rate: float | None = None  # passing cells / cells (cell = case on a target)
    mean_score: float | None = None     # rows with a score, errors excluded
    latency_p50_ms: float | None = None  # linear interpolation (numpy's default)
    latency_p95_ms: float | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cost_usd: float | None = None       # sum of known costs; None when no row has a known cost
    cost_unknown: int = 0               # rows whose cost is unknown
    flaky_cases: list[str] = Field(default_factory=list)
    named_scores: dict[str, float] = Field(default_factory=dict)
    metrics: dict[str, MetricStats] = Field(default_factory=dict)  # scorer metrics by name


class RunSummary(BaseModel):
    total: TargetSummary
    targets: list[TargetSummary]
    verdict: Literal["pass", "fail"]
    threshold: float | None             # min_pass_rate as given (None = every case must pass)
    case_threshold: float = 1.0


class CaseChange(BaseModel):
    case_id: str
    case_preview: str | None = None       # the case's inputs as one line (set by the registry)
    target_key: str
    change: ChangeKind
    before: Status | None = None
    after: Status | None = None
    before_output: str | None = None
    after_output: str | None = None
    before_score: float | None = None
    after_score: float | None = None
    before_pass_rate: float | None = None  # across repeats
    after_pass_rate: float | None = None


class Significance(BaseModel):
    test: str                           # "mcnemar-exact" | "bootstrap-paired-mean"
    n: int                              # paired cases used
    statistic: float | None = None      # McNemar: b (pass→fail); bootstrap: mean(after-before)
    p_value: float | None = None        # McNemar only
    ci_low: float | None = None         # bootstrap only: (1 - alpha) percentile interval
    ci_high: float | None = None
    significant: bool = False
    note: str = ""


class TargetComparison(BaseModel):
    target_key: str
    before_target_id: str
    after_target_id: str
    before: TargetSummary
    after: TargetSummary
    pass_rate_delta: float | None = None
    case_pass_rate_delta: float | None = None
    mean_score_delta: float | None = None
    metric_mean_deltas: dict[str, float | None] = Field(default_factory=dict)  # after - before
    pass_fail: Significance
    score: Significance
    # per metric scored on both sides: paired bootstrap of the per-case metric difference
    metric_significance: dict[str, Significance] = Field(default_factory=dict)


class Comparison(BaseModel):
    run_ids: tuple[str, str]
    targets: list[TargetComparison]
    changes: list[CaseChange]
    counts: dict[str, int]
    # the target summaries and deltas cover only cases both runs have: a rate over other
    # cases would compare different questions, not versions
    shared_cases: int = 0
    before_only_cases: int = 0
    after_only_cases: int = 0
    warnings: list[str] = Field(default_factory=list)


class PivotCell(BaseModel):
    prompt: str
    model: str
    target_ids: list[str] = Field(default_factory=list)
    pass_rate: float | None = None
    case_pass_rate: float | None = None
    mean_score: float | None = None
    latency_p95_ms: float | None = None
    cost_usd: float | None = None
    cost_unknown: int = 0
    results: int = 0
    metrics: dict[str, MetricStats] = Field(default_factory=dict)


class Pivot(BaseModel):
    prompts: list[str]
    models: list[str]
    cells: list[PivotCell]


class TrendPoint(BaseModel):
    run_id: str
    at: datetime
    target_id: str
    prompt_version: int | None = None
    model: str
    pass_rate: float | None = None
    case_pass_rate: float | None = None
    mean_score: float | None = None
    results: int = 0
    metrics: dict[str, MetricStats] = Field(default_factory=dict)


# --------------------------------------------------------------------------- helpers


def _natural_key(value: str) -> tuple[tuple[int, int, str], ...]:
    parts = re.split(r"(\d+)", value)
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in parts if p != "")


def _dedupe(results: Iterable[CaseResult]) -> list[CaseResult]:
    """One row per (run, target, case, repeat); a redelivered row replaces the earlier one."""
    rows: dict[tuple[str, str, str, int], CaseResult] = {}
    for r in results:
        rows[(r.run_id, r.target_id, r.case_id, r.repeat)] = r
    return list(rows.values())


def _check_fraction(name: str, value: float | None) -> None:
    if value is not None and not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be within [0, 1], got {value}")


def _mean(values: Sequence[float]) -> float | None:
    return math.fsum(values) / len(values) if values else None


def _delta(before: float | None, after: float | None) -> float | None:
    return None if before is None or after is None else after - before


@dataclass
class _Cell:
    """One case on one target: its rows across repeats, ordered by repeat."""

    case_id: str
    rows: list[CaseResult]

    @property
    def passed(self) -> int:
        return sum(r.status == "pass" for r in self.rows)

    @property
    def pass_rate(self) -> float:
        return self.passed / len(self.rows)

    def passes(self, threshold: float) -> bool:
        return self.passed >= threshold * len(self.rows) - _EPS

    def status(self, threshold: float) -> Status:
        if self.passes(threshold):
            return "pass"
        if all(r.status == "error" for r in self.rows):
            return "error"
        return "fail"

    @property
    def flaky(self) -> bool:
        return len(self.rows) > 1 and 0 < self.passed < len(self.rows)

    @property
    def mean_score(self) -> float | None:
        return _mean([r.score for r in self.rows if r.status != "error" and r.score is not None])

    @property
    def first_output(self) -> str | None:
        return self.rows[0].output

    def metric_mean(self, name: str) -> float | None:
        """Mean of metric ``name`` over the repeats it scored (not applicable, errors and
        unscored repeats left out)."""
        return _mean([r.scores[name].value for r in self.rows
                      if name in r.scores and r.scores[name].status == "ok"
                      and r.scores[name].value is not None])


def _cells(rows: Iterable[CaseResult]) -> dict[str, _Cell]:
    """Cells of one target's rows, keyed by case id in natural order."""
    grouped: dict[str, list[CaseResult]] = defaultdict(list)
    for r in rows:
        grouped[r.case_id].append(r)
    return {
        cid: _Cell(cid, sorted(grouped[cid], key=lambda r: r.repeat))
        for cid in sorted(grouped, key=_natural_key)
    }


def _by_target(rows: Iterable[CaseResult]) -> dict[str, list[CaseResult]]:
    grouped: dict[str, list[CaseResult]] = defaultdict(list)
    for r in rows:
        grouped[r.target_id].append(r)
    return grouped


def _target_order(
    targets: Sequence[Target] | None, rows_by_target: Mapping[str, object]
) -> list[str]:
    order: list[str] = []
    for t in targets or []:
        if t.target_id not in order:
            order.append(t.target_id)
    extra = sorted((tid for tid in rows_by_target if tid not in order), key=_natural_key)
    return order + extra


def _labels(targets: Sequence[Target] | None) -> dict[str, str]:
    return {t.target_id: t.label for t in targets or []}


def metric_stats(scores: Iterable[MetricResult]) -> MetricStats:
    """Count, mean, median, min and max of the "ok" values; the other statuses counted."""
    values: list[float] = []
    not_applicable = errors = 0
    for score in scores:
        if score.status == "ok" and score.value is not None:
            values.append(score.value)
        elif score.status == "not_applicable":
            not_applicable += 1
        else:
            errors += 1
    return MetricStats(
        count=len(values), mean=_mean(values), p50=percentile(values, 50),
        min=min(values, default=None), max=max(values, default=None),
        n_not_applicable=not_applicable, n_errors=errors,
    )


def _metrics(rows: Iterable[CaseResult]) -> dict[str, MetricStats]:
    by_metric: dict[str, list[MetricResult]] = defaultdict(list)
    for r in rows:
        for name, score in r.scores.items():
            by_metric[name].append(score)
    return {name: metric_stats(by_metric[name]) for name in sorted(by_metric)}


def _metric_deltas(before: TargetSummary, after: TargetSummary) -> dict[str, float | None]:
    names = sorted(set(before.metrics) | set(after.metrics))
    return {
        n: _delta(before.metrics[n].mean if n in before.metrics else None,
                  after.metrics[n].mean if n in after.metrics else None)
        for n in names
    }


def _row_total_tokens(r: CaseResult) -> int:
    if r.total_tokens is not None:
        return r.total_tokens
    return (r.prompt_tokens or 0) + (r.completion_tokens or 0)


def _summary(
    target_id: str,
    label: str | None,
    rows: Sequence[CaseResult],
    cells: Sequence[_Cell],
    case_threshold: float,
) -> TargetSummary:
    n = len(rows)
    passed = sum(r.status == "pass" for r in rows)
    failed = sum(r.status == "fail" for r in rows)
    errors = sum(r.status == "error" for r in rows)
    latencies = [r.latency_ms for r in rows if r.latency_ms is not None]
    known_costs = [r.cost_usd for r in rows if r.cost_usd is not None]
    named: dict[str, list[float]] = defaultdict(list)
    for r in rows:
        for name, value in r.named_scores.items():
            named[name].append(value)
    flaky = sorted({c.case_id for c in cells if c.flaky}, key=_natural_key)
    return TargetSummary(
        target_id=target_id,
        label=label,
        cases=len({c.case_id for c in cells}),
        results=n,
        passed=passed,
        failed=failed,
        errors=errors,
        pass_rate=passed / n if n else None,
        case_pass_rate=(
            sum(c.passes(case_threshold) for c in cells) / len(cells) if cells else None
        ),
        mean_score=_mean([r.score for r in rows if r.status != "error" and r.score is not None]),
        latency_p50_ms=percentile(latencies, 50),
        latency_p95_ms=percentile(latencies, 95),
        prompt_tokens=sum(r.prompt_tokens or 0 for r in rows),
        completion_tokens=sum(r.completion_tokens or 0 for r in rows),
        total_tokens=sum(_row_total_tokens(r) for r in rows),
        cost_usd=math.fsum(known_costs) if known_costs else None,
        cost_unknown=n - len(known_costs),
        flaky_cases=flaky,
        named_scores={k: math.fsum(v) / len(v) for k, v in sorted(named.items())},
        metrics=_metrics(rows),
    )


def _target_summary(
    target_id: str, label: str | None, rows: Sequence[CaseResult], case_threshold: float
) -> tuple[TargetSummary, dict[str, _Cell]]:
    cells = _cells(rows)
    return _summary(target_id, label, rows, list(cells.values()), case_threshold), cells


# --------------------------------------------------------------------------- summarize


SUMMARY_UNUSED = ("output", "rendered_prompt", "assertions", "reason", "error")
"""Result fields :func:`summarize` never reads: a caller holding thousands of stored
results may leave them out (they are most of a result's size)."""


def summarize(
    results: Iterable[CaseResult],
    targets: Sequence[Target] | None = None,
    *,
    case_threshold: float = 1.0,
    min_pass_rate: float | None = None,
) -> RunSummary:
    """Per-target and total summaries of a run, with a pass/fail verdict.

    The total's ``case_pass_rate`` is over cells (each case on each target counts once);
    its ``cases`` is the number of distinct case ids and its ``flaky_cases`` the case ids
    flaky on any target. The verdict is ``"pass"`` when the total ``case_pass_rate`` is
    ``>= min_pass_rate`` (``None``: every cell must pass); a run without results fails.
    Targets listed in ``targets`` but without results get an empty summary.
    """
    _check_fraction("case_threshold", case_threshold)
    _check_fraction("min_pass_rate", min_pass_rate)
    rows = _dedupe(results)
    grouped = _by_target(rows)
    labels = _labels(targets)
    summaries: list[TargetSummary] = []
    all_cells: list[_Cell] = []
    for tid in _target_order(targets, grouped):
        summary, cells = _target_summary(tid, labels.get(tid), grouped.get(tid, []),
                                         case_threshold)
        summaries.append(summary)
        all_cells.extend(cells.values())
    total = _summary(ALL_TARGETS, "all targets", rows, all_cells, case_threshold)
    rate = total.case_pass_rate
    required = 1.0 if min_pass_rate is None else min_pass_rate
    ok = rate is not None and rate >= required - _EPS
    return RunSummary(
        total=total,
        targets=summaries,
        verdict="pass" if ok else "fail",
        threshold=min_pass_rate,
        case_threshold=case_threshold,
    )


# --------------------------------------------------------------------------- compare


def _run_id(rows: Sequence[CaseResult]) -> str:
    return ",".join(sorted({r.run_id for r in rows}))


def _pairs(
    before_ids: list[str], after_ids: list[str], pair_targets: dict[str, str] | None
) -> tuple[list[tuple[str, str]], list[str], list[str]]:
    """(paired (before, after) ids, before-only ids, after-only ids)."""
    if pair_targets is None:
        after_set = set(after_ids)
        before_set = set(before_ids)
        pairs = [(tid, tid) for tid in before_ids if tid in after_set]
        return (
            pairs,
            [tid for tid in before_ids if tid not in after_set],
            [tid for tid in after_ids if tid not in before_set],
        )
    unknown_before = [b for b in pair_targets if b not in before_ids]
    unknown_after = [a for a in pair_targets.values() if a not in after_ids]
    if unknown_before or unknown_after:
        parts = []
        if unknown_before:
            parts.append(f"before run has no target {', '.join(unknown_before)}")
        if unknown_after:
            parts.append(f"after run has no target {', '.join(unknown_after)}")
        raise ValueError("pair_targets: " + "; ".join(parts))
    order = {tid: i for i, tid in enumerate(before_ids)}
    pairs = sorted(pair_targets.items(), key=lambda p: order[p[0]])
    return pairs, [], []


def _target_key(before_id: str, after_id: str) -> str:
    return before_id if before_id == after_id else f"{before_id}->{after_id}"


def _classify(before: _Cell, after: _Cell, case_threshold: float) -> ChangeKind:
    b_pass = before.passes(case_threshold)
    a_pass = after.passes(case_threshold)
    if b_pass and not a_pass:
        return "regressed"
    if a_pass and not b_pass:
        return "fixed"
    if (
        before.status(case_threshold) != after.status(case_threshold)
        or before.first_output != after.first_output
    ):
        return "changed_output"
    return "unchanged"


def _change(
    kind: ChangeKind,
    case_id: str,
    target_key: str,
    before: _Cell | None,
    after: _Cell | None,
    case_threshold: float,
) -> CaseChange:
    return CaseChange(
        case_id=case_id,
        target_key=target_key,
        change=kind,
        before=before.status(case_threshold) if before else None,
        after=after.status(case_threshold) if after else None,
        before_output=before.first_output if before else None,
        after_output=after.first_output if after else None,
        before_score=before.mean_score if before else None,
        after_score=after.mean_score if after else None,
        before_pass_rate=before.pass_rate if before else None,
        after_pass_rate=after.pass_rate if after else None,
    )


def _mcnemar(
    paired: list[tuple[_Cell, _Cell]], case_threshold: float, alpha: float
) -> Significance:
    n = len(paired)
    if n == 0:
        return Significance(test="mcnemar-exact", n=0, note="no paired cases")
    b = sum(x.passes(case_threshold) and not y.passes(case_threshold) for x, y in paired)
    c = sum(y.passes(case_threshold) and not x.passes(case_threshold) for x, y in paired)
    counts = f"b={b} pass→fail, c={c} fail→pass"
    if b + c == 0:
        return Significance(test="mcnemar-exact", n=n, statistic=0.0, p_value=1.0,
                            significant=False, note=f"no discordant pairs ({counts})")
    p = mcnemar_exact_p(b, c)
    note = f"two-sided exact binomial on {counts}"
    floor = smallest_attainable_p(b + c)
    if floor >= alpha:
        note += (f"; too few discordant pairs (b+c={b + c}): the smallest attainable p is "
                 f"{floor:.3g}, not below alpha={alpha:g}")
    return Significance(test="mcnemar-exact", n=n, statistic=float(b), p_value=p,
                        significant=p < alpha, note=note)


def _bootstrap(
    values: list[tuple[float | None, float | None]], alpha: float, seed: int, resamples: int,
    what: str = "a score",
) -> Significance:
    """Paired bootstrap of mean(after - before) over the cases with a value on both sides."""
    diffs = [after - before for before, after in values
             if before is not None and after is not None]
    n = len(diffs)
    test = "bootstrap-paired-mean"
    if n == 0:
        return Significance(test=test, n=0, note=f"no paired cases with {what} on both sides")
    observed = math.fsum(diffs) / n
    if n < 2:
        return Significance(test=test, n=n, statistic=observed,
                            note=f"too few paired cases with {what} (n={n}); need at least 2")
    confidence = 1.0 - alpha
    low, high = bootstrap_mean_interval(diffs, resamples=resamples, seed=seed,
                                        confidence=confidence)
    note = (f"{confidence:.0%} percentile interval of mean(after - before) per case, "
            f"{resamples} resamples, seed {seed}")
    if max(diffs) - min(diffs) <= _EPS:
        note += "; every paired difference is equal, so the interval is a single point"
    return Significance(test=test, n=n, statistic=observed, ci_low=low, ci_high=high,
                        significant=low > 0 or high < 0, note=note)


def compare_runs(
    before: Iterable[CaseResult],
    after: Iterable[CaseResult],
    *,
    before_targets: Sequence[Target] | None = None,
    after_targets: Sequence[Target] | None = None,
    pair_targets: dict[str, str] | None = None,
    case_threshold: float = 1.0,
    alpha: float = 0.05,
    seed: int = 0,
    resamples: int = 2000,
) -> Comparison:
    """Compare two runs case by case within paired targets.

    Targets pair by ``target_id`` unless ``pair_targets`` (before id -> after id) is given;
    then exactly those pairs are compared and other targets are left out. With default
    pairing, a target present on one side only contributes ``removed``/``added`` changes
    (and no ``TargetComparison``). ``target_key`` is the id, or ``"before->after"`` when
    the ids differ.

    Per case: ``regressed`` (passed before, not after), ``fixed`` (the reverse),
    ``changed_output`` (same pass outcome but a different status, e.g. fail -> error, or a
    different output of the first repeat), ``unchanged``, ``added``, ``removed``.

    Each pair's ``before``/``after`` summaries and deltas cover the cases both sides
    have (``shared_cases``); cases on one side only are listed as ``added``/``removed``
    changes and counted, with a warning, but never move a rate.

    Significance per target pair: exact McNemar on per-case pass/fail (``b`` pass->fail,
    ``c`` fail->pass) and a seeded paired bootstrap of the per-case mean score difference
    (cases with a score on both sides; the interval has confidence ``1 - alpha``); the
    same bootstrap for each metric scored in both runs (``metric_significance``).
    """
    _check_fraction("case_threshold", case_threshold)
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be within (0, 1), got {alpha}")
    if resamples < 1:
        raise ValueError(f"resamples must be >= 1, got {resamples}")
    before_rows = _dedupe(before)
    after_rows = _dedupe(after)
    b_grouped = _by_target(before_rows)
    a_grouped = _by_target(after_rows)
    b_labels = _labels(before_targets)
    a_labels = _labels(after_targets)
    pairs, before_only, after_only = _pairs(
        _target_order(before_targets, b_grouped),
        _target_order(after_targets, a_grouped),
        pair_targets,
    )

    comparisons: list[TargetComparison] = []
    changes: list[CaseChange] = []
    for b_id, a_id in pairs:
        key = _target_key(b_id, a_id)
        b_rows, a_rows = b_grouped.get(b_id, []), a_grouped.get(a_id, [])
        shared = {r.case_id for r in b_rows} & {r.case_id for r in a_rows}
        b_sum, _ = _target_summary(b_id, b_labels.get(b_id),
                                   [r for r in b_rows if r.case_id in shared], case_threshold)
        a_sum, _ = _target_summary(a_id, a_labels.get(a_id),
                                   [r for r in a_rows if r.case_id in shared], case_threshold)
        b_cells, a_cells = _cells(b_rows), _cells(a_rows)
        paired: list[tuple[_Cell, _Cell]] = []
        for cid in sorted(set(b_cells) | set(a_cells), key=_natural_key):
            bc, ac = b_cells.get(cid), a_cells.get(cid)
            if bc is not None and ac is not None:
                paired.append((bc, ac))
                kind = _classify(bc, ac, case_threshold)
            else:
                kind = "removed" if ac is None else "added"
            changes.append(_change(kind, cid, key, bc, ac, case_threshold))
        comparisons.append(TargetComparison(
            target_key=key,
            before_target_id=b_id,
            after_target_id=a_id,
            before=b_sum,
            after=a_sum,
            pass_rate_delta=_delta(b_sum.pass_rate, a_sum.pass_rate),
            case_pass_rate_delta=_delta(b_sum.case_pass_rate, a_sum.case_pass_rate),
            mean_score_delta=_delta(b_sum.mean_score, a_sum.mean_score),
            metric_mean_deltas=_metric_deltas(b_sum, a_sum),
            pass_fail=_mcnemar(paired, case_threshold, alpha),
            score=_bootstrap([(x.mean_score, y.mean_score) for x, y in paired],
                             alpha, seed, resamples),
            metric_significance={
                name: _bootstrap([(x.metric_mean(name), y.metric_mean(name))
                                  for x, y in paired], alpha, seed, resamples,
                                 what=f"a {name} value")
                for name in sorted(set(b_sum.metrics) & set(a_sum.metrics))},
        ))
    for tid in before_only:
        for cid, cell in _cells(b_grouped.get(tid, [])).items():
            changes.append(_change("removed", cid, tid, cell, None, case_threshold))
    for tid in after_only:
        for cid, cell in _cells(a_grouped.get(tid, [])).items():
            changes.append(_change("added", cid, tid, None, cell, case_threshold))

    counts = {k: 0 for k in CHANGE_KINDS}
    for ch in changes:
        counts[ch.change] += 1
    b_cases = {r.case_id for r in before_rows}
    a_cases = {r.case_id for r in after_rows}
    shared_all = b_cases & a_cases
    warnings = []
    if b_cases and a_cases and not shared_all:
        warnings.append("the runs have no case in common: nothing to compare")
    elif b_cases != a_cases:
        warnings.append(f"compared on the {len(shared_all)} cases both runs have; "
                        f"{len(b_cases - a_cases)} only before, {len(a_cases - b_cases)} "
                        "only after are listed but not counted in the rates")
    return Comparison(
        run_ids=(_run_id(before_rows), _run_id(after_rows)),
        targets=comparisons,
        changes=changes,
        counts=counts,
        shared_cases=len(shared_all),
        before_only_cases=len(b_cases - a_cases),
        after_only_cases=len(a_cases - b_cases),
        warnings=warnings,
    )


# --------------------------------------------------------------------------- pivot


def prompt_label(target: Target) -> str:
    """Row label of a target in a pivot: ``"name vN"`` for a prompt version; for an
    application (or a target without a prompt name), its label without a trailing
    ``" · <model>"``."""
    if target.prompt_name and not target.application_id:
        if target.prompt_version is None:
            return target.prompt_name
        return f"{target.prompt_name} v{target.prompt_version}"
    suffix = f" · {target.model}"
    label = target.label
    if label.endswith(suffix) and len(label) > len(suffix):
        label = label[: -len(suffix)]
    return label


def pivot(
    results: Iterable[CaseResult],
    targets: Sequence[Target],
    *,
    case_threshold: float = 1.0,
) -> Pivot:
    """Prompts (rows) × models (columns). Cells exist only where a target sits; targets
    sharing a prompt and a model (e.g. different params) are aggregated into one cell and
    listed in ``target_ids``. Rows and columns keep the order of first appearance in
    ``targets``; results of target ids not in ``targets`` form a row named by their id, in
    the column of the model that answered (``"unknown"`` when not recorded)."""
    _check_fraction("case_threshold", case_threshold)
    rows = _dedupe(results)
    grouped = _by_target(rows)
    by_id = {t.target_id: t for t in targets}
    placement: dict[tuple[str, str], list[str]] = {}
    for tid in _target_order(targets, grouped):
        t = by_id.get(tid)
        if t is not None:
            where = (prompt_label(t), t.model)
        else:
            model = next((r.model for r in grouped[tid] if r.model), None) or "unknown"
            where = (tid, model)
        placement.setdefault(where, []).append(tid)

    prompts: list[str] = []
    models: list[str] = []
    cells: list[PivotCell] = []
    for (prompt, model), tids in placement.items():
        if prompt not in prompts:
            prompts.append(prompt)
        if model not in models:
            models.append(model)
        cell_rows = [r for tid in tids for r in grouped.get(tid, [])]
        cell_cells = [c for tid in tids for c in _cells(grouped.get(tid, [])).values()]
        s = _summary(tids[0], None, cell_rows, cell_cells, case_threshold)
        cells.append(PivotCell(
            prompt=prompt,
            model=model,
            target_ids=tids,
            pass_rate=s.pass_rate,
            case_pass_rate=s.case_pass_rate,
            mean_score=s.mean_score,
            latency_p95_ms=s.latency_p95_ms,
            cost_usd=s.cost_usd,
            cost_unknown=s.cost_unknown,
            results=s.results,
            metrics=s.metrics,
        ))
    return Pivot(prompts=prompts, models=models, cells=cells)


# --------------------------------------------------------------------------- trend


def trend(
    runs: Iterable[tuple[str, datetime, Sequence[Target], Sequence[CaseResult]]],
    prompt_id: str,
    *,
    case_threshold: float = 1.0,
) -> list[TrendPoint]:
    """One point per run × target of ``prompt_id``, ordered by time (then input order and
    target order). Targets of the prompt without results yield points with ``results=0``."""
    _check_fraction("case_threshold", case_threshold)
    points: list[tuple[datetime, int, int, TrendPoint]] = []
    for run_index, (run_id, at, targets, results) in enumerate(runs):
        grouped = _by_target(_dedupe(results))
        for target_index, t in enumerate(targets):
            if t.prompt_id != prompt_id:
                continue
            s, _ = _target_summary(t.target_id, t.label, grouped.get(t.target_id, []),
                                   case_threshold)
            points.append((at, run_index, target_index, TrendPoint(
                run_id=run_id,
                at=at,
                target_id=t.target_id,
                prompt_version=t.prompt_version,
                model=t.model,
                pass_rate=s.pass_rate,
                case_pass_rate=s.case_pass_rate,
                mean_score=s.mean_score,
                results=s.results,
                metrics=s.metrics,
            )))
    points.sort(key=lambda p: (p[0], p[1], p[2]))
    return [p[3] for p in points]
