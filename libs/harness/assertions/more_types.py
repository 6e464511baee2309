"""The assertion types added to the original engine, in one registry the engine merges
into its own (a new type = a new module + one line here).

``UNSUPPORTED`` lists promptfoo 0.123.1 types harness refuses, each with the reason given
to the user: a config that uses one is refused by name, never silently passed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from .html_checks import check_contains_html, check_is_html
from .meteor import check_meteor
from .model_graded import (
    check_answer_relevance,
    check_closedqa,
    check_context_faithfulness,
    check_context_recall,
    check_context_relevance,
    check_factuality,
    check_geval,
    check_moderation,
)
from .models import Assertion, AssertionContext, Verdict
from .overlap_metrics import check_bleu, check_gleu, check_rouge_n
from .response_checks import (
    check_finish_reason,
    check_guardrails,
    check_is_refusal,
    check_perplexity,
    check_perplexity_score,
    check_word_count,
)
from .scripts import check_javascript, check_python
from .sql_checks import check_contains_sql, check_is_sql
from .tool_checks import check_openai_function_call, check_openai_tools_call, check_tool_call_f1
from .webhook import check_webhook
from .xml_checks import check_xml

Check = Callable[[Assertion, Any, str, AssertionContext], Awaitable[Verdict]]


def _async(fn: Callable[[Assertion, Any, str, AssertionContext], Verdict]) -> Check:
    async def run(a: Assertion, value: Any, output: str, ctx: AssertionContext) -> Verdict:
        return fn(a, value, output, ctx)

    return run


# Graded across the outputs of all prompts for a test, after they are all in (promptfoo's
# comparison step; harness.promptfoo.compare): the per-output grading skips them.
COMPARISON_TYPES = {"select-best", "max-score"}


def is_comparison(a_type: str) -> bool:
    """promptfoo's own test: ``select-*`` or ``max-score`` (``not-select-best`` is not)."""
    return a_type.startswith("select-") or a_type == "max-score"


async def _compared_elsewhere(a: Assertion, value: Any, output: str,
                              ctx: AssertionContext) -> Verdict:
    from .models import AssertionEvalError

    raise AssertionEvalError(f"{a.type!r} compares the outputs of all prompts for a test: only "
                             "`harness eval` runs it (after every prompt has answered)")


DETERMINISTIC: dict[str, Check] = {
    "is-html": _async(check_is_html),
    "contains-html": _async(check_contains_html),
    "is-xml": _async(check_xml),
    "contains-xml": _async(check_xml),
    "is-sql": _async(check_is_sql),
    "contains-sql": _async(check_contains_sql),
    "is-valid-openai-tools-call": _async(check_openai_tools_call),
    "is-valid-openai-function-call": _async(check_openai_function_call),
    "is-valid-function-call": _async(check_openai_function_call),
    "tool-call-f1": _async(check_tool_call_f1),
    "finish-reason": _async(check_finish_reason),
    "guardrails": _async(check_guardrails),
    "rouge-n": _async(check_rouge_n),
    "bleu": _async(check_bleu),
    "gleu": _async(check_gleu),
    "meteor": _async(check_meteor),
    "perplexity": _async(check_perplexity),
    "perplexity-score": _async(check_perplexity_score),
    "is-refusal": _async(check_is_refusal),
    "word-count": _async(check_word_count),
    "webhook": check_webhook,
    "python": check_python,
    "javascript": check_javascript,
}

MODEL_GRADED: dict[str, Check] = {
    "factuality": check_factuality,
    "model-graded-factuality": check_factuality,
    "model-graded-closedqa": check_closedqa,
    "g-eval": check_geval,
    "answer-relevance": check_answer_relevance,
    "context-faithfulness": check_context_faithfulness,
    "context-recall": check_context_recall,
    "context-relevance": check_context_relevance,
    "moderation": check_moderation,
}

async def _set_alone(a: Assertion, value: Any, output: str, ctx: AssertionContext) -> Verdict:
    from .models import AssertionEvalError

    raise AssertionEvalError(f"{a.type!r}: an assert-set is graded as a group of a test's "
                             "assertions (it cannot be negated or run alone)")


EXTRA_CHECKS: dict[str, Check] = {**DETERMINISTIC, **MODEL_GRADED,
                                   **{t: _compared_elsewhere for t in COMPARISON_TYPES},
                                   "assert-set": _set_alone}

# Values a type needs (promptfoo fails those rows); file:// values these types run as code.
EXTRA_NEEDS_VALUE = {"webhook", "python", "javascript", "finish-reason", "tool-call-f1",
                     "bleu", "gleu", "rouge-n", "meteor", "word-count", "factuality",
                     "model-graded-factuality", "model-graded-closedqa", "g-eval",
                     "context-recall"}
SCRIPT_TYPES = {"python", "javascript"}
CODE_TYPES = {*SCRIPT_TYPES, "webhook"}

UNSUPPORTED: dict[str, str] = {
    "human": "needs a person's rating in promptfoo's web viewer",
    "classifier": "runs a HuggingFace classifier model through promptfoo's HuggingFace "
                  "provider",
    "pi": "calls the withpi.ai scoring service",
    "ruby": "runs Ruby code (harness runs python and javascript)",
    "search-rubric": "needs a web-search-capable grading provider",
    "agent-rubric": "grades agent traces harness does not record",
    "conversation-relevance": "grades multi-turn conversations harness's runs do not hold",
    "skill-used": "reads agent skill calls harness does not record",
    "trace-error-spans": "reads OpenTelemetry traces of the provider call",
    "trace-span-count": "reads OpenTelemetry traces of the provider call",
    "trace-span-duration": "reads OpenTelemetry traces of the provider call",
    "trajectory:goal-success": "reads agent trajectories harness does not record",
    "trajectory:step-count": "reads agent trajectories harness does not record",
    "trajectory:tool-args-match": "reads agent trajectories harness does not record",
    "trajectory:tool-sequence": "reads agent trajectories harness does not record",
    "trajectory:tool-used": "reads agent trajectories harness does not record",
}


def unsupported_reason(a_type: str) -> str | None:
    base = a_type[4:] if a_type.startswith("not-") else a_type
    if base.startswith("promptfoo:redteam:"):
        return "red-team graders are not supported"
    why = UNSUPPORTED.get(base)
    return f"promptfoo assertion type {a_type!r} is not supported by harness: {why}" if why \
        else None
