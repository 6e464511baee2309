"""Small, pure statistics used by the analysis of evaluation runs.

- ``percentile``: linear interpolation between closest ranks (numpy's default ``"linear"``
  method, Hyndman & Fan type 7).
- ``mcnemar_exact_p``: exact McNemar test, i.e. a two-sided binomial test of ``b`` successes
  in ``b + c`` trials at p = 0.5. Uses ``scipy.stats.binomtest`` when scipy is installed and
  exact integer arithmetic otherwise (the two agree; see the unit tests).
- ``bootstrap_mean_interval``: percentile interval of the mean of paired differences from a
  seeded nonparametric bootstrap (deterministic for a given seed).
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Sequence


def percentile(values: Iterable[float], q: float) -> float | None:
    """The ``q``-th percentile (0..100) of ``values``; ``None`` when there are no values.

    Linear interpolation between the two closest ranks, like ``numpy.percentile`` with its
    default method: position ``(n - 1) * q / 100`` in the sorted values.
    """
    if not 0 <= q <= 100:
        raise ValueError(f"percentile q must be within [0, 100], got {q}")
    data = sorted(float(v) for v in values)
    if not data:
        return None
    pos = (len(data) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(data) - 1)
    frac = pos - lo
    if frac == 0 or data[lo] == data[hi]:
        return data[lo]
    return data[lo] + (data[hi] - data[lo]) * frac


def mcnemar_exact_p(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value for ``b`` and ``c`` discordant pairs (1.0 when none)."""
    if b < 0 or c < 0:
        raise ValueError("discordant counts must be non-negative")
    n = b + c
    if n == 0:
        return 1.0
    try:
        from scipy.stats import binomtest
    except ImportError:
        return _exact_binom_p(b, c)
    return float(min(1.0, binomtest(b, n, 0.5, alternative="two-sided").pvalue))


def _exact_binom_p(b: int, c: int) -> float:
    """``min(1, 2 * P(X <= min(b, c)))`` for X ~ Binomial(b + c, 1/2), in exact integers.

    The binomial at p = 1/2 is symmetric, so this equals the "sum of outcomes no more likely
    than the observed one" definition of the two-sided test.
    """
    n = b + c
    if n == 0:
        return 1.0
    k = min(b, c)
    term = 1  # C(n, 0)
    tail = 0
    for i in range(k + 1):
        tail += term
        term = term * (n - i) // (i + 1)
    # 2 * tail / 2**n, computed without overflowing a float
    return min(1.0, _ratio(2 * tail, n))


def _ratio(numerator: int, log2_denominator: int) -> float:
    """``numerator / 2**log2_denominator`` as a float, exact-ish for huge integers."""
    shift = max(0, numerator.bit_length() - 60)
    return math.ldexp(numerator >> shift, shift - log2_denominator)


def smallest_attainable_p(discordant: int) -> float:
    """The smallest two-sided exact McNemar p-value possible with ``discordant`` pairs."""
    if discordant <= 0:
        return 1.0
    return min(1.0, math.ldexp(1.0, 1 - discordant))


def bootstrap_mean_interval(
    diffs: Sequence[float], *, resamples: int = 2000, seed: int = 0, confidence: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap interval for the mean of ``diffs``.

    Draws ``resamples`` samples of ``len(diffs)`` with replacement from a
    ``random.Random(seed)`` generator, so the same inputs and seed give the same interval.
    """
    if not diffs:
        raise ValueError("bootstrap needs at least one value")
    if resamples < 1:
        raise ValueError("resamples must be >= 1")
    if not 0 < confidence < 1:
        raise ValueError("confidence must be within (0, 1)")
    data = [float(d) for d in diffs]
    n = len(data)
    rng = random.Random(seed)
    means = [math.fsum(rng.choices(data, k=n)) / n for _ in range(resamples)]
    tail = (1.0 - confidence) / 2.0 * 100.0
    low = percentile(means, tail)
    high = percentile(means, 100.0 - tail)
    assert low is not None and high is not None
    return low, high
