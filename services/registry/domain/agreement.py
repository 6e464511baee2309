"""Judge-vs-human agreement (pure: no I/O): how well an online evaluator's scores agree
with people's scores of the same traces.

Each pair is one trace scored by the evaluator and by one person (a trace two people
scored gives two pairs). What "agree" means follows the people's score (its config's
``data_type``):

- ``boolean``: the judge passes when its label is ``pass`` (an assertion's), else when its
  value is at least 0.5; the person's ``true`` is a pass. ``accuracy`` is the share of
  pairs where both say the same, with the confusion counts and Cohen's ``kappa`` (agreement
  beyond chance; undefined when both always say the same thing).
- ``categorical``: the judge's label must equal the person's label (a judge without a label
  agrees when its value is the category's number). ``accuracy`` and ``kappa``.
- ``numeric``: Pearson and Spearman (ties get their mean rank) correlation of the two
  values, and the mean absolute difference. A correlation needs two pairs and both sides
  varying; otherwise it is ``None`` with the reason in ``note``.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

PASS_AT = 0.5


@dataclass(frozen=True)
class Pair:
    judge_value: float
    judge_label: str | None
    human_value: float
    human_label: str | None


def judge_passes(p: Pair) -> bool:
    if p.judge_label in ("pass", "fail"):
        return p.judge_label == "pass"
    return p.judge_value >= PASS_AT


def _scaled(values: Sequence[float]) -> list[float]:
    """The values over their largest magnitude (in [-1, 1]): a correlation does not change
    with the scale, and neither squares of 1e200 nor of 1e-160 leave a double's range."""
    top = max((abs(v) for v in values), default=0.0)
    return [v / top for v in values] if top else list(values)


def pearson(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Pearson's r, or None with fewer than two points or a side that never varies."""
    n = len(xs)
    if n < 2 or n != len(ys) or not all(map(math.isfinite, [*xs, *ys])):
        return None
    xs, ys = _scaled(xs), _scaled(ys)
    mx, my = sum(xs) / n, sum(ys) / n
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    spread = math.sqrt(sxx) * math.sqrt(syy)
    if spread == 0:
        return None
    return max(-1.0, min(1.0, sxy / spread))


def ranks(values: Sequence[float]) -> list[float]:
    """1-based ranks; tied values share the mean of the ranks they span."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    out = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        mean_rank = (i + j) / 2 + 1
        for k in range(i, j + 1):
            out[order[k]] = mean_rank
        i = j + 1
    return out


def spearman(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Spearman's rho: Pearson's r of the ranks."""
    if len(xs) < 2 or len(xs) != len(ys):
        return None
    return pearson(ranks(xs), ranks(ys))


def kappa(judged: Sequence[Any], human: Sequence[Any]) -> float | None:
    """Cohen's kappa of two raters' labels; None when chance agreement is 1 (no variety)."""
    n = len(judged)
    if n == 0:
        return None
    observed = sum(a == b for a, b in zip(judged, human, strict=True)) / n
    cj, ch = Counter(judged), Counter(human)
    expected = sum(cj[k] * ch[k] for k in cj) / (n * n)
    if expected >= 1.0:
        return None
    return (observed - expected) / (1 - expected)


def agreement(data_type: str, pairs: Sequence[Pair]) -> dict[str, Any]:
    """The agreement of the pairs, by the people's score's ``data_type``."""
    n = len(pairs)
    out: dict[str, Any] = {"data_type": data_type, "n": n, "accuracy": None, "kappa": None,
                           "pearson": None, "spearman": None, "mean_abs_diff": None,
                           "confusion": None, "note": None}
    if n == 0:
        out["note"] = "no trace has both the evaluator's score and a person's"
        return out
    if data_type == "boolean":
        judged = [judge_passes(p) for p in pairs]
        human = [p.human_value >= PASS_AT for p in pairs]
        out["confusion"] = {
            "both_pass": sum(j and h for j, h in zip(judged, human, strict=True)),
            "both_fail": sum(not j and not h for j, h in zip(judged, human, strict=True)),
            "judge_pass_human_fail": sum(j and not h for j, h in zip(judged, human,
                                                                        strict=True)),
            "judge_fail_human_pass": sum(h and not j for j, h in zip(judged, human,
                                                                        strict=True))}
        out["accuracy"] = sum(j == h for j, h in zip(judged, human, strict=True)) / n
        out["kappa"] = kappa(judged, human)
        if out["kappa"] is None:
            out["note"] = "kappa needs variety: every pair says the same thing"
        return out
    if data_type == "categorical":
        judged_l = [p.judge_label if p.judge_label is not None else p.judge_value
                    for p in pairs]
        human_l = [p.human_label if p.judge_label is not None else p.human_value
                   for p in pairs]
        out["accuracy"] = sum(a == b for a, b in zip(judged_l, human_l, strict=True)) / n
        out["kappa"] = kappa([str(x) for x in judged_l], [str(x) for x in human_l])
        if out["kappa"] is None:
            out["note"] = "kappa needs variety: every pair says the same thing"
        return out
    xs = [p.judge_value for p in pairs]
    ys = [p.human_value for p in pairs]
    out["pearson"] = pearson(xs, ys)
    out["spearman"] = spearman(xs, ys)
    # each difference halved so that one of two values near the largest double stays finite
    mean_abs_diff = 2 * sum(abs(x / 2 - y / 2) for x, y in zip(xs, ys, strict=True)) / n
    out["mean_abs_diff"] = mean_abs_diff if math.isfinite(mean_abs_diff) else None
    if out["pearson"] is None:
        out["note"] = ("a correlation needs at least two pairs" if n < 2
                       else "a correlation needs both scores to vary")
    return out
