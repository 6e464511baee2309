"""latency and cost: the call's measured numbers against a threshold."""

from __future__ import annotations

from .models import Assertion, AssertionContext, AssertionEvalError, Verdict, binary


def _limit(a: Assertion, measured: float, unit: str, shown: str) -> Verdict:
    if a.threshold is None:
        raise AssertionEvalError(f'"{a.type}" needs a threshold ({unit})')
    within = measured <= a.threshold
    passed = within != a.inverse
    relation = "≤" if within else ">"
    what = a.base_type.capitalize()
    return binary(passed, f"{what} {shown} {relation} threshold {a.threshold:g}{unit_suffix(unit)}")


def unit_suffix(unit: str) -> str:
    return "ms" if unit == "ms" else f" {unit}"


def check_latency(a: Assertion, ctx: AssertionContext) -> Verdict:
    if ctx.latency_ms is None:
        raise AssertionEvalError("latency unknown (no measured latency for this output)")
    return _limit(a, ctx.latency_ms, "ms", f"{ctx.latency_ms:g}ms")


def check_cost(a: Assertion, ctx: AssertionContext) -> Verdict:
    if ctx.cost_usd is None:
        raise AssertionEvalError("cost unknown (the model's price is not known)")
    return _limit(a, ctx.cost_usd, "USD", f"{ctx.cost_usd:.6g} USD")
