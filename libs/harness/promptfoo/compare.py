"""select-best and max-score: promptfoo's comparison step, run once every prompt of a test
has answered. Each compares the outputs of all prompts (targets) for one test (and
repeat) and adds one more component to each of those rows, merged as promptfoo 0.123.1
merges it:

- ``select-best`` asks the judge which output best fits the criteria (the value); the
  chosen row passes it, the others fail it (score 0, the test fails with its reason).
- ``max-score`` needs no model: each row's score is the (weighted: ``value.weights`` per
  assertion type) average — or sum with ``value.method: sum`` — of its other assertions'
  scores; the first highest row wins when it reaches ``value.threshold`` (if any).

Rows that errored keep their error. A test with fewer than two outputs to compare makes
the comparison an error on those rows, as promptfoo refuses it."""

from __future__ import annotations

import json
import re
from typing import Any

from harness.assertions.models import AssertionResult
from harness.assertions.more_types import is_comparison
from harness.assertions.rubric import custom_messages
from harness.evaluation.execute import Grading
from harness.evaluation.models import CaseResult

from .config import EvalPlan

SELECT_BEST_PROMPT = """\
Several texts answer the same request. Pick the one that best meets this criterion:
{criteria}

{texts}

Reply with the index number of the best text only (a single integer, counting from 0)."""


def _component(a_type: str, passed: bool, score: float, reason: str,
               assertion: dict[str, Any], *, error: bool = False) -> dict[str, Any]:
    weight = assertion.get("weight")
    return AssertionResult(type=a_type, passed=passed, score=score, reason=reason,
                           weight=1.0 if weight is None else float(weight),
                           metric=assertion.get("metric"), error=error).model_dump()


def _merge(result: CaseResult, comp: dict[str, Any]) -> CaseResult:
    """Append a comparison component with promptfoo's rules: the row keeps passing only if
    it passed before and passes this; a failed comparison sets its score and reason."""
    if result.status == "error":
        return result
    was_pass = result.status == "pass"
    passed = was_pass and comp["passed"]
    update: dict[str, Any] = {"assertions": [*result.assertions, comp],
                              "status": "pass" if passed else "fail"}
    if not comp["passed"]:
        update["score"] = comp["score"]
        if was_pass or comp["type"] == "select-best":
            update["reason"] = comp["reason"]
    return result.model_copy(update=update)


async def _select_best(assertion: dict[str, Any], rows: list[CaseResult], case_vars: dict,
                       options: dict[str, Any], grading: Grading) -> list[dict[str, Any]]:
    criteria = assertion.get("value")
    if not isinstance(criteria, str):
        raise ValueError("select-best must have a string value")
    outputs = [r.output or "" for r in rows]
    custom = assertion.get("rubricPrompt") or options.get("rubricPrompt")
    if custom:
        template = custom if isinstance(custom, str) else json.dumps(custom, ensure_ascii=False)
        messages = custom_messages(template, "", "", {**case_vars, "criteria": criteria,
                                                       "outputs": outputs})
    else:
        texts = "\n\n".join(f'<text index="{i}">\n{o}\n</text>' for i, o in enumerate(outputs))
        messages = [{"role": "user", "content": SELECT_BEST_PROMPT.format(
            criteria=criteria, texts=texts)}]
    provider = assertion.get("provider") or options.get("provider")
    answer = await grading.judge(messages, provider)
    m = re.search(r"\d+", (answer or "").strip())
    verdict = int(m.group(0)) if m else None
    if not answer:
        return [_component("select-best", False, 0.0, "No output", assertion) for _ in rows]
    if verdict is None or verdict >= len(rows):
        return [_component("select-best", False, 0.0,
                           f"Invalid select-best verdict: {verdict if m else 'NaN'}", assertion)
                for _ in rows]
    return [_component("select-best", i == verdict, 1.0 if i == verdict else 0.0,
                       f"Output {'selected as the best' if i == verdict else 'not selected'}: "
                       f"{criteria}", assertion) for i in range(len(rows))]


def _max_score(assertion: dict[str, Any], rows: list[CaseResult]) -> list[dict[str, Any]]:
    value = assertion.get("value") if isinstance(assertion.get("value"), dict) else {}
    method = value.get("method", "average")
    weights = value.get("weights") or {}
    threshold = value.get("threshold")
    scores = []
    for r in rows:
        relevant = [c for c in r.assertions if not is_comparison(str(c.get("type", "")))]
        if not relevant:
            raise ValueError("max-score requires at least one other assertion (besides "
                             "max-score or select-best) to aggregate scores from")
        total = weight_sum = 0.0
        for c in relevant:
            w = weights.get(c.get("type"), 1)
            total += float(c.get("score") or 0.0) * w
            weight_sum += w
        scores.append(total if method == "sum" else (total / weight_sum if weight_sum else 0.0))
    best = max(scores)
    winner = scores.index(best)
    meets = threshold is None or best >= threshold
    out = []
    for i, score in enumerate(scores):
        won = i == winner and meets
        if won:
            reason = f"Selected as highest scoring output (score: {score:.3f})"
        elif score == best and not meets:
            reason = f"Not selected - score {score:.3f} below threshold {threshold}"
        else:
            reason = f"Not selected (score: {score:.3f}, max: {best:.3f})"
        out.append(_component("max-score", won, 1.0 if won else 0.0, reason, assertion))
    return out


async def apply_comparisons(plan: EvalPlan, results: list[CaseResult], grading: Grading,
                            *, repeat: int = 1) -> list[CaseResult]:
    """``results`` with each test's select-best, then max-score, applied."""
    cases = {c.id: c for c in plan.cases}
    order = {t.target_id: i for i, t in enumerate(plan.targets)}
    groups: dict[tuple[str, int], list[int]] = {}
    for i, r in enumerate(results):
        case = cases.get(r.case_id)
        if case is not None and any(is_comparison(str(a.get("type", "")))
                                    for a in case.assert_ if isinstance(a, dict)):
            groups.setdefault((r.case_id, r.repeat), []).append(i)
    out = list(results)
    for (case_id, _), indexes in groups.items():
        indexes.sort(key=lambda i: order.get(out[i].target_id, 0))
        case = cases[case_id]
        options = case.metadata.get("options", {}) if isinstance(case.metadata, dict) else {}
        for kind in ("select-best", "max-score"):
            assertion = next((a for a in case.assert_ if isinstance(a, dict)
                              and a.get("type") == kind), None)
            if assertion is None:
                continue
            rows = [out[i] for i in indexes]
            try:
                if len(rows) < 2:
                    raise ValueError(f"{kind} assertion must have at least two outputs to "
                                     "compare between")
                if kind == "select-best":
                    comps = await _select_best(assertion, rows, case.input, options, grading)
                else:
                    comps = _max_score(assertion, rows)
            except Exception as exc:  # noqa: BLE001 - the comparison's failure is the rows'
                message = f"{kind}: {type(exc).__name__}: {exc}" if not isinstance(
                    exc, ValueError) else f"{kind}: {exc}"
                for i in indexes:
                    if out[i].status != "error":
                        out[i] = out[i].model_copy(update={
                            "status": "error", "reason": message, "error": message})
                continue
            for i, comp in zip(indexes, comps, strict=True):
                out[i] = _merge(out[i], comp)
    return out
