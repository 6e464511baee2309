"""assert-set: a group of assertions graded as one, as promptfoo 0.123.1 does.

``{type: assert-set, assert: [...], threshold, weight, metric}``: the children are graded
like a test of their own (weighted mean score; without a ``threshold`` every child must
pass, with one the mean must reach it), and the set then counts as one assertion of the
test with its ``weight`` and ``metric``. As in promptfoo's results, the components list
holds the set's own result followed by its children's (flattened), and a child that cannot
be evaluated makes the row an error."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from .models import Assertion, AssertionResult, GradingResult

ASSERT_SET = "assert-set"

Grade = Callable[[Sequence[Any], float | None], Awaitable[GradingResult]]


def is_set(raw: Any) -> bool:
    kind = raw.type if isinstance(raw, Assertion) else (
        raw.get("type") if isinstance(raw, dict) else None)
    return kind == ASSERT_SET


def children(raw: Any) -> list[Any]:
    extra = raw.model_extra or {} if isinstance(raw, Assertion) else raw
    items = extra.get("assert")
    return list(items) if isinstance(items, list) else []


def flatten(assertions: Sequence[Any]) -> list[Any]:
    """The assertion list in the order of the flattened components: a set, then its
    children."""
    out: list[Any] = []
    for a in assertions:
        out.append(a)
        if is_set(a):
            out.extend(children(a))
    return out


async def grade_set(raw: Any, grade: Grade) -> tuple[AssertionResult, list[AssertionResult]]:
    """(the set's own component, its children's components)."""
    a = raw if isinstance(raw, Assertion) else Assertion.model_validate(raw)
    items = children(a)
    if not items:
        result = AssertionResult(type=ASSERT_SET, passed=False, score=0.0, weight=a.weight,
                                 reason="assert-set needs a non-empty 'assert' list",
                                 metric=a.metric, error=True)
        return result, []
    sub = await grade(items, a.threshold)
    result = AssertionResult(type=ASSERT_SET, passed=sub.passed, score=sub.score,
                             reason=sub.reason, weight=a.weight, metric=a.metric,
                             error=sub.error)
    return result, list(sub.components)
