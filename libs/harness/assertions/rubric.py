"""llm-rubric: a judge model grades the output against a rubric."""

from __future__ import annotations

import json
import math
import re
from typing import Any

from .models import Assertion, AssertionContext, AssertionEvalError, Verdict
from .values import find_json_values, render_string

GRADER_SYSTEM_PROMPT = """\
You are a strict, fair grader. You receive the output of an AI system and a rubric.
Decide whether the output satisfies the rubric, judging only what the rubric asks for.
Give a score between 0.0 (does not satisfy the rubric at all) and 1.0 (fully satisfies it).

Reply with exactly one JSON object and nothing else, in this shape:
{"reason": "<one or two sentences explaining your verdict>",
 "pass": <true or false>,
 "score": <number from 0.0 to 1.0>}"""

GRADER_USER_PROMPT = """\
<output>
{output}
</output>

<rubric>
{rubric}
</rubric>"""


def default_messages(output: str, rubric: str) -> list[dict]:
    return [
        {"role": "system", "content": GRADER_SYSTEM_PROMPT},
        {"role": "user", "content": GRADER_USER_PROMPT.format(output=output, rubric=rubric)},
    ]


def _template_context(output: str, rubric: str, variables: dict[str, Any]) -> dict[str, Any]:
    # promptfoo renders with {output, rubric, ...vars}; objects are passed as JSON text.
    ctx: dict[str, Any] = {"output": output, "rubric": rubric}
    for key, val in variables.items():
        if isinstance(val, dict):
            ctx[key] = json.dumps(val, ensure_ascii=False)
        elif isinstance(val, list):
            ctx[key] = [
                json.dumps(x, ensure_ascii=False) if isinstance(x, dict | list) else x for x in val
            ]
        else:
            ctx[key] = val
    return ctx


def _render_leaves(node: Any, context: dict[str, Any]) -> Any:
    if isinstance(node, str):
        return render_string(node, context, "rubric prompt", strict=True)
    if isinstance(node, list):
        return [_render_leaves(x, context) for x in node]
    if isinstance(node, dict):
        return {k: _render_leaves(v, context) for k, v in node.items()}
    return node


def custom_messages(
    template: str, output: str, rubric: str, variables: dict[str, Any]
) -> list[dict]:
    """Messages from a custom rubric prompt. JSON templates (e.g. a list of chat messages)
    have each string rendered on its own, so quotes in the output cannot break the JSON."""
    context = _template_context(output, rubric, variables)
    try:
        parsed = json.loads(template)
    except ValueError:
        parsed = None
    if isinstance(parsed, list | dict):
        rendered = _render_leaves(parsed, context)
        if isinstance(rendered, list) and all(
            isinstance(m, dict) and isinstance(m.get("role"), str) and "content" in m
            for m in rendered
        ):
            return [dict(m) for m in rendered]
        return [{"role": "user", "content": json.dumps(rendered, ensure_ascii=False)}]
    content = render_string(template, context, "rubric prompt", strict=True)
    return [{"role": "user", "content": content}]


_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.S)


def parse_judgement(text: str) -> dict[str, Any]:
    """The first JSON object in the judge's answer: bare, inside code fences, or
    surrounded by other text."""
    for chunk in [*(m.group(1) for m in _FENCE.finditer(text)), text]:
        for value in find_json_values(chunk):
            if isinstance(value, dict):
                return value
            if isinstance(value, list):  # e.g. [{"pass": true, ...}]
                for item in value:
                    if isinstance(item, dict):
                        return item
    snippet = text.strip().replace("\n", " ")[:200]
    raise AssertionEvalError(f"judge did not answer with a JSON object: {snippet!r}")


_TRUTHY = re.compile(r"^(true|yes|pass|y)$", re.I)


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str):
        try:
            f = float(value.strip())
        except ValueError:
            return None
        return f if math.isfinite(f) else None
    return None


def grade(judgement: dict[str, Any], threshold: float | None) -> tuple[bool, float, str]:
    """Pass, score and reason from the judge's JSON, as promptfoo reads them: ``pass``
    defaults to true, a missing or non-numeric ``score`` follows ``pass``, and an
    assertion threshold also requires ``score >= threshold``."""
    if "pass" not in judgement and "score" not in judgement:
        raise AssertionEvalError(
            f"judge's JSON has neither 'pass' nor 'score': {json.dumps(judgement)[:200]}"
        )
    raw_pass = judgement.get("pass", True)
    passed = raw_pass if isinstance(raw_pass, bool) else bool(_TRUTHY.match(str(raw_pass)))
    score = _as_number(judgement.get("score"))
    if score is None:
        score = 1.0 if passed else 0.0
    if threshold is not None:
        passed = passed and score >= threshold
    reason = judgement.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        if passed:
            reason = "Grading passed"
        elif threshold is not None and score < threshold:
            reason = f"Score {score:g} below threshold {threshold:g}"
        else:
            reason = "Grading failed"
    return passed, score, reason


async def check_llm_rubric(a: Assertion, value: Any, output: str, ctx: AssertionContext) -> Verdict:
    template = (
        a.rubric_prompt or ctx.options.get("rubricPrompt") or ctx.options.get("rubric_prompt")
    )
    if isinstance(template, list | dict):
        template = json.dumps(template, ensure_ascii=False)
    if value is None or value == "":
        if not template:
            raise AssertionEvalError('"llm-rubric" needs a value (the rubric)')
        rubric = ""
    elif isinstance(value, str):
        rubric = value
    elif isinstance(value, dict | list):
        rubric = json.dumps(value, ensure_ascii=False)
    else:
        raise AssertionEvalError('"llm-rubric" needs a string or object value')
    if ctx.judge is None:
        raise AssertionEvalError("no judge model configured for llm-rubric")
    if template:
        messages = custom_messages(str(template), output, rubric, ctx.vars)
    else:
        messages = default_messages(output, rubric)
    provider = a.provider if a.provider is not None else ctx.options.get("provider")
    try:
        answer = await ctx.judge(messages, provider)
    except Exception as exc:  # the judge is outside this engine; say what it raised
        raise AssertionEvalError(f"judge call failed: {type(exc).__name__}: {exc}") from exc
    if not isinstance(answer, str) or not answer.strip():
        raise AssertionEvalError("judge returned no output")
    passed, score, reason = grade(parse_judgement(answer), a.threshold)
    if a.inverse:
        return Verdict(not passed, 1 - min(1.0, max(0.0, score)), reason)
    return Verdict(passed, score, reason)
