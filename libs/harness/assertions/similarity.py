"""similar (and similar:cosine / :dot / :euclidean): embedding similarity to the value."""

from __future__ import annotations

import inspect
import math
import sys
from typing import Any

from .models import Assertion, AssertionContext, AssertionEvalError, Verdict
from .values import fmt_num

DEFAULT_SIMILARITY_THRESHOLD = 0.75
_EPS = sys.float_info.epsilon


async def _embed(ctx: AssertionContext, texts: list[str], provider: Any) -> list[list[float]]:
    if ctx.embed is None:
        raise AssertionEvalError("no embedder configured for similarity checks")
    call: Any = ctx.embed
    try:
        # An embedder that also takes the provider override gets it.
        inspect.signature(call).bind(texts, provider)
        takes_provider = provider is not None
    except (TypeError, ValueError):
        takes_provider = False
    try:
        vectors = await (call(texts, provider) if takes_provider else call(texts))
    except Exception as exc:  # the embedder is outside this engine; say what it raised
        raise AssertionEvalError(f"embedder failed: {type(exc).__name__}: {exc}") from exc
    if not isinstance(vectors, list | tuple) or len(vectors) != len(texts):
        got = len(vectors) if isinstance(vectors, list | tuple) else type(vectors).__name__
        raise AssertionEvalError(f"embedder returned {got} vectors for {len(texts)} texts")
    out: list[list[float]] = []
    for v in vectors:
        try:
            vec = [float(x) for x in v]
        except (TypeError, ValueError) as exc:
            raise AssertionEvalError(f"embedder returned a non-numeric vector: {exc}") from exc
        if not vec or not all(math.isfinite(x) for x in vec):
            raise AssertionEvalError("embedder returned an empty or non-finite vector")
        out.append(vec)
    dims = {len(v) for v in out}
    if len(dims) != 1:
        raise AssertionEvalError(f"embedder returned vectors of different sizes {sorted(dims)}")
    return out


def _dot(a: list[float], b: list[float]) -> float:
    return math.fsum(x * y for x, y in zip(a, b, strict=True))


def _cosine(a: list[float], b: list[float]) -> float:
    na, nb = math.sqrt(_dot(a, a)), math.sqrt(_dot(b, b))
    if na == 0 or nb == 0:
        raise AssertionEvalError("an embedding has zero length; cosine similarity is undefined")
    return _dot(a, b) / (na * nb)


def _euclidean(a: list[float], b: list[float]) -> float:
    return math.sqrt(math.fsum((x - y) ** 2 for x, y in zip(a, b, strict=True)))


def _metric(a: Assertion) -> str:
    if ":" not in a.base_type:
        return "cosine"
    suffix = a.base_type.split(":", 1)[1]
    if suffix not in ("cosine", "dot", "euclidean"):
        raise AssertionEvalError(f"unknown similarity metric {suffix!r}")
    return suffix


def _judge_one(measure: float, metric: str, threshold: float, inverse: bool) -> Verdict:
    if metric == "euclidean":
        # a distance: lower is closer, the threshold is the largest allowed distance
        passed = measure >= threshold - _EPS if inverse else measure <= threshold + _EPS
        closeness = 1 / (1 + measure)
        score = 1 - closeness if inverse else closeness
        near = measure <= threshold + _EPS
        rel = "≤" if near else ">"
        return Verdict(passed, score, f"Distance {fmt_num(measure)} {rel} threshold {threshold:g}")
    passed = measure <= threshold + _EPS if inverse else measure >= threshold - _EPS
    score = 1 - measure if inverse else measure
    rel = "≥" if measure >= threshold - _EPS else "<"
    return Verdict(passed, score, f"Similarity {fmt_num(measure)} {rel} threshold {threshold:g}")


async def check_similar(a: Assertion, value: Any, output: str, ctx: AssertionContext) -> Verdict:
    if isinstance(value, str):
        expected = [value]
    elif isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        expected = list(value)
    else:
        raise AssertionEvalError(f'"{a.base_type}" needs a string or a non-empty list of strings')
    metric = _metric(a)
    threshold = a.threshold if a.threshold is not None else DEFAULT_SIMILARITY_THRESHOLD
    provider = a.provider if a.provider is not None else ctx.options.get("provider")
    vectors = await _embed(ctx, [output, *expected], provider)
    out_vec, value_vecs = vectors[0], vectors[1:]
    measure_fn = {"cosine": _cosine, "dot": _dot, "euclidean": _euclidean}[metric]
    verdicts = [
        _judge_one(measure_fn(vec, out_vec), metric, threshold, a.inverse) for vec in value_vecs
    ]
    if len(verdicts) == 1:
        return verdicts[0]
    if a.inverse:
        # not-similar holds only when the output is far from every value.
        for v, text in zip(verdicts, expected, strict=True):
            if not v.passed:
                return Verdict(False, v.score, f"{v.reason} (value {text!r})")
        closest = min(verdicts, key=lambda v: v.score)
        return Verdict(True, closest.score, f"Far from every value; closest: {closest.reason}")
    for v, text in zip(verdicts, expected, strict=True):
        if v.passed:
            return Verdict(True, v.score, f"{v.reason} (value {text!r})")
    best = max(verdicts, key=lambda v: v.score)
    return Verdict(
        False, best.score, f"None of the values met the similarity threshold; best: {best.reason}"
    )
