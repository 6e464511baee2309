"""Evaluating assertions one by one and as a test (weights, threshold, named metrics)."""

from __future__ import annotations

import asyncio
import dataclasses
import math
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from pydantic import ValidationError

from harness import nunjucks

from .assert_set import children, grade_set, is_set
from .json_checks import check_contains_json, check_is_json, schema_validator
from .limits import check_cost, check_latency
from .models import (
    Assertion,
    AssertionContext,
    AssertionEvalError,
    AssertionResult,
    GradingResult,
    Verdict,
)
from .more_types import (
    CODE_TYPES,
    EXTRA_CHECKS,
    EXTRA_NEEDS_VALUE,
    SCRIPT_TYPES,
    is_comparison,
    unsupported_reason,
)
from .rubric import check_llm_rubric
from .safe_regex import compile_js
from .scripts import js_json, run_transform
from .similarity import check_similar
from .text import (
    check_contains,
    check_contains_many,
    check_equals,
    check_levenshtein,
    check_regex,
    check_starts_with,
)
from .values import is_template, render_value

Check = Callable[[Assertion, Any, str, AssertionContext], Awaitable[Verdict]]


def _sync(fn: Callable[[Assertion, Any, str], Verdict]) -> Check:
    async def run(a: Assertion, value: Any, output: str, ctx: AssertionContext) -> Verdict:
        return fn(a, value, output)

    return run


def _threaded(fn: Callable[[Assertion, Any, str], Verdict]) -> Check:
    """A CPU-bound check (a user's regex) runs in a worker thread so a slow one never
    holds the event loop; its own budget (safe_regex's timeout) bounds the thread."""

    async def run(a: Assertion, value: Any, output: str, ctx: AssertionContext) -> Verdict:
        return await asyncio.to_thread(fn, a, value, output)

    return run


def _ctx_only(fn: Callable[[Assertion, AssertionContext], Verdict]) -> Check:
    async def run(a: Assertion, value: Any, output: str, ctx: AssertionContext) -> Verdict:
        return fn(a, ctx)

    return run


_CHECKS: dict[str, Check] = {
    "equals": _sync(check_equals),
    "contains": _sync(check_contains),
    "icontains": _sync(check_contains),
    "contains-any": _sync(check_contains_many),
    "contains-all": _sync(check_contains_many),
    "icontains-any": _sync(check_contains_many),
    "icontains-all": _sync(check_contains_many),
    "starts-with": _sync(check_starts_with),
    "regex": _threaded(check_regex),
    "is-json": _sync(check_is_json),
    "contains-json": _sync(check_contains_json),
    "levenshtein": _sync(check_levenshtein),
    "latency": _ctx_only(check_latency),
    "cost": _ctx_only(check_cost),
    "similar": check_similar,
    "similar:cosine": check_similar,
    "similar:dot": check_similar,
    "similar:euclidean": check_similar,
    "llm-rubric": check_llm_rubric,
    **EXTRA_CHECKS,
}

BASE_TYPES: frozenset[str] = frozenset(_CHECKS)
SUPPORTED_TYPES: frozenset[str] = BASE_TYPES | frozenset(f"not-{t}" for t in BASE_TYPES)
"""Every accepted ``type``, with and without the ``not-`` prefix."""

# Types whose value is required, and types that need a threshold.
_NEEDS_VALUE = {
    "equals",
    "contains",
    "icontains",
    "contains-any",
    "contains-all",
    "icontains-any",
    "icontains-all",
    "starts-with",
    "regex",
    "levenshtein",
    "similar",
    "similar:cosine",
    "similar:dot",
    "similar:euclidean",
    *EXTRA_NEEDS_VALUE,
}
_NEEDS_THRESHOLD = {"latency", "cost"}
_UNSUPPORTED_KEYS: dict[str, str] = {}  # every assertion key promptfoo reads is handled

ASSERTION_CONCURRENCY = 3


def _metric_only(a: Assertion) -> bool:
    return a.weight == 0 or bool((a.model_extra or {}).get("metricOnly"))


def _render_metric(metric: str | None, variables: dict[str, Any]) -> str | None:
    if not metric or "{" not in metric:
        return metric
    try:
        return nunjucks.render(metric, variables)
    except nunjucks.NunjucksError:
        return metric  # promptfoo keeps the name as written when it cannot render it


def _error(
    a_type: str, reason: str, weight: float = 1.0, metric: str | None = None
) -> AssertionResult:
    return AssertionResult(
        type=a_type,
        passed=False,
        score=0.0,
        reason=reason,
        weight=weight,
        metric=metric,
        error=True,
    )


def _templated(value: Any) -> bool:
    """Whether rendering the value runs a template (then it runs in a worker thread)."""
    if isinstance(value, str):
        return is_template(value)
    return isinstance(value, list) and any(isinstance(v, str) and is_template(v) for v in value)


def _clamp(score: float) -> float:
    if not isinstance(score, int | float) or math.isnan(score):
        return 0.0
    return min(1.0, max(0.0, float(score)))


async def evaluate_assertion(
    assertion: Assertion | dict, output: str, ctx: AssertionContext
) -> AssertionResult:
    """Evaluate one assertion. Anything that keeps it from being evaluated is reported
    as ``error=True`` (and ``passed=False``) with the reason; this never raises for a bad
    assertion."""
    if not isinstance(assertion, Assertion):
        raw_type = assertion.get("type") if isinstance(assertion, dict) else None
        try:
            assertion = Assertion.model_validate(assertion)
        except ValidationError as exc:
            return _error(str(raw_type or ""), f"invalid assertion: {_first_problem(exc)}")
    a = assertion
    metric = _render_metric(a.metric, ctx.vars)
    check = _CHECKS.get(a.base_type)
    if check is None:
        why = unsupported_reason(a.type) or f"unknown assertion type {a.type!r}"
        return _error(a.type, why, a.weight, metric)
    for key, why in _UNSUPPORTED_KEYS.items():
        if (a.model_extra or {}).get(key):
            return _error(a.type, f"{key}: {why}", a.weight, metric)
    if math.isnan(a.weight) or a.weight < 0:
        return _error(a.type, f"weight must be a number ≥ 0, got {a.weight}", 0.0, metric)
    if a.base_type in CODE_TYPES and not ctx.allow_code:
        return _error(a.type, f"{a.type!r} assertions run code or call out and only run in "
                      "`harness eval` on your own config, not in the registry's runner",
                      a.weight, metric)
    transform = (a.model_extra or {}).get("transform")
    if transform and not ctx.allow_code:
        return _error(a.type, "transform: output transforms run code and only run in `harness "
                      "eval` on your own config, not in the registry's runner", a.weight, metric)
    if output is None:
        output = ""
    elif not isinstance(output, str):
        output = str(output)
    try:
        if transform:  # promptfoo transforms the output for this assertion only
            if not isinstance(transform, str):
                raise AssertionEvalError("transform must be JavaScript code or a file:// path")
            new = await run_transform(transform, ctx.raw_output if ctx.raw_output is not None
                                      else output, ctx)
            output = new if isinstance(new, str) else js_json(new)
            ctx = dataclasses.replace(ctx, raw_output=new)
        if a.base_type in SCRIPT_TYPES and isinstance(a.value, str) and \
                a.value.startswith("file://"):
            value = a.value  # the script file itself, run by the check
        elif _templated(a.value):
            value = await asyncio.to_thread(render_value, a.value, ctx.vars)  # bounded, off-loop
        else:
            value = render_value(a.value, ctx.vars)
        verdict = await check(a, value, output, ctx)
    except AssertionEvalError as exc:
        return _error(a.type, f"{a.type}: {exc}", a.weight, metric)
    except Exception as exc:  # e.g. an unresolvable $ref in a schema: still a result
        return _error(
            a.type, f"{a.type}: could not evaluate ({type(exc).__name__}: {exc})", a.weight, metric
        )
    return AssertionResult(
        type=a.type,
        passed=verdict.passed or a.weight == 0,  # promptfoo: a weight-0 assertion passes
        score=_clamp(verdict.score),
        reason=verdict.reason,
        weight=a.weight,
        metric=metric,
    )


def aggregate(
    assertions: Sequence[Assertion | None],
    components: list[AssertionResult],
    threshold: float | None = None,
) -> GradingResult:
    """Combine component results as promptfoo does: score = Σ score·weight / Σ weight;
    without a test threshold every counted assertion must pass, with one the score must
    reach it. Weight-0 (metric-only) assertions are reported but neither count toward the
    score nor fail the test. An errored assertion always fails the test."""
    if not components:
        return GradingResult(
            passed=True, score=1.0, reason="No assertions", components=[], named_scores={}
        )
    total = weight_sum = 0.0
    first_failure: str | None = None
    first_error: str | None = None
    named: dict[str, float] = {}
    named_w: dict[str, float] = {}
    for a, r in zip(assertions, components, strict=True):
        metric_only = _metric_only(a) if a is not None else r.weight == 0
        if r.error and first_error is None:
            first_error = r.reason
        if not metric_only:
            total += r.score * r.weight
            weight_sum += r.weight
            if not r.passed and first_failure is None:
                first_failure = r.reason
        if r.metric:
            w = 1.0 if metric_only else r.weight
            named[r.metric] = named.get(r.metric, 0.0) + r.score * w
            named_w[r.metric] = named_w.get(r.metric, 0.0) + w
    score = total / weight_sum if weight_sum > 0 else 0.0
    named_scores = {k: (named[k] / named_w[k] if named_w[k] > 0 else 0.0) for k in named}
    use_threshold = threshold is not None and not math.isnan(threshold)
    if use_threshold:
        passed = score >= threshold
        reason = f"Aggregate score {score:.2f} {'≥' if passed else '<'} {threshold:g} threshold"
        if not passed and first_failure:
            reason += f"; first failure: {first_failure}"
    else:
        passed = first_failure is None
        reason = first_failure or "All assertions passed"
    errored = first_error is not None
    if errored:
        passed = False
        reason = first_error
    return GradingResult(
        passed=passed,
        score=score,
        reason=reason,
        components=components,
        named_scores=named_scores,
        error=errored,
    )


async def evaluate_assertions(
    assertions: Sequence[Assertion | dict],
    output: str,
    ctx: AssertionContext,
    *,
    threshold: float | None = None,
) -> GradingResult:
    """Evaluate a test's assertions (concurrently, a few at a time) and grade the test."""
    assertions = list(assertions)
    parsed: list[Assertion | None] = []
    for raw in assertions:
        if isinstance(raw, Assertion):
            parsed.append(raw)
            continue
        try:
            parsed.append(Assertion.model_validate(raw))
        except ValidationError:
            parsed.append(None)  # evaluate_assertion reports it as an error
    if ctx.comparisons_deferred:
        pairs = [(r, a) for r, a in zip(assertions, parsed, strict=True)
                 if a is None or not is_comparison(a.type)]
        if len(pairs) < len(assertions) and not pairs:
            # promptfoo: only comparison assertions leave an empty, passing grade of 0
            return GradingResult(passed=True, score=0.0, reason="All assertions passed",
                                 components=[], named_scores={})
        assertions, parsed = [r for r, _ in pairs], [a for _, a in pairs]
    gate = asyncio.Semaphore(ASSERTION_CONCURRENCY)

    async def grade_children(items: Sequence[Any], set_threshold: float | None) -> GradingResult:
        return await evaluate_assertions(items, output, ctx, threshold=set_threshold)

    async def run(raw: Assertion | dict, a: Assertion | None
                  ) -> tuple[AssertionResult, list[AssertionResult]]:
        item = a if a is not None else raw
        if is_set(item):  # graded as a group; its children take the gate themselves
            return await grade_set(item, grade_children)
        async with gate:
            return await evaluate_assertion(item, output, ctx), []

    graded = list(
        await asyncio.gather(*(run(r, a) for r, a in zip(assertions, parsed, strict=True)))
    )
    result = aggregate(parsed, [own for own, _ in graded], threshold)
    if any(subs for _, subs in graded):  # promptfoo lists a set's children after it
        flat = [c for own, subs in graded for c in (own, *subs)]
        result = result.model_copy(update={"components": flat})
    return result


def _first_problem(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err.get("loc", ())) or "assertion"
    return f"{where}: {err.get('msg', 'invalid')}"


def parse_assertions(raw: list[dict]) -> list[Assertion]:
    """Validate a list of assertions; raise ``ValueError`` naming the index and problem."""
    if not isinstance(raw, list):
        raise ValueError(f"assertions must be a list, got {type(raw).__name__}")
    out: list[Assertion] = []
    for i, item in enumerate(raw):
        where = f"assert[{i}]"
        if isinstance(item, Assertion):
            a = item
        else:
            if not isinstance(item, dict):
                raise ValueError(f"{where}: must be an object, got {type(item).__name__}")
            if "type" not in item:
                raise ValueError(f"{where}: missing 'type'")
            try:
                a = Assertion.model_validate(item)
            except ValidationError as exc:
                raise ValueError(f"{where}: {_first_problem(exc)}") from exc
        where = f"{where} ({a.type})"
        if a.base_type not in BASE_TYPES:
            why = unsupported_reason(a.type) or f"unknown assertion type {a.type!r}"
            raise ValueError(f"{where}: {why}")
        if a.base_type == "assert-set":
            if a.inverse or not isinstance((a.model_extra or {}).get("assert"), list):
                raise ValueError(f"{where}: an assert-set needs an 'assert' list (and no not-)")
            try:
                parse_assertions(children(a))
            except ValueError as exc:
                raise ValueError(f"{where}.{exc}") from exc
        if a.weight < 0 or math.isnan(a.weight):
            raise ValueError(f"{where}: weight must be a number ≥ 0")
        if a.threshold is not None and math.isnan(a.threshold):
            raise ValueError(f"{where}: threshold must be a number")
        if a.base_type in _NEEDS_VALUE and (a.value is None or a.value == ""):
            raise ValueError(f"{where}: 'value' is required")
        if a.base_type in _NEEDS_THRESHOLD and a.threshold is None:
            unit = "ms" if a.base_type == "latency" else "USD"
            raise ValueError(f"{where}: 'threshold' ({unit}) is required")
        for key, why in _UNSUPPORTED_KEYS.items():
            if (a.model_extra or {}).get(key):
                raise ValueError(f"{where}: {key}: {why}")
        if a.base_type == "regex" and isinstance(a.value, str) and not is_template(a.value):
            try:
                compile_js(a.value)
            except Exception as exc:
                raise ValueError(f"{where}: {exc}") from exc
        if a.base_type in ("is-json", "contains-json") and isinstance(a.value, dict | bool):
            try:
                schema_validator(a, a.value)
            except AssertionEvalError as exc:
                raise ValueError(f"{where}: {exc}") from exc
        out.append(a)
    return out
