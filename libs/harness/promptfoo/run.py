"""Running an :class:`EvalPlan`: every case on every target it applies to, × repeat."""

from __future__ import annotations

import asyncio
import os
import random
import string
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from harness.evaluation.execute import Grading, PromptRenderer, RenderedPrompt, evaluate_case
from harness.evaluation.models import CaseResult, Target, TestCaseSnapshot
from harness.llm import LLMClient
from harness.llm.echo import is_echo
from harness.tracing import context as tracing_context
from harness.tracing.spans import spans_of

from .compare import apply_comparisons
from .config import EvalPlan, PromptSpec
from .render import parse_js_json, prepare_vars, render_prompt

Progress = Callable[[int, int, CaseResult], Any]
"""Called after each evaluation with (done, total, the result)."""


class EvalOutcome(BaseModel):
    eval_id: str
    results: list[CaseResult]
    repeat: int = 1
    concurrency: int = 4
    started_at: datetime
    finished_at: datetime
    duration_ms: float

    def counts(self) -> dict[str, int]:
        out = {"pass": 0, "fail": 0, "error": 0}
        for r in self.results:
            out[r.status] += 1
        return out


def new_eval_id(at: datetime | None = None) -> str:
    """An id in promptfoo's style: ``eval-<3 chars>-<ISO time to the second>``."""
    at = at or datetime.now(UTC)
    suffix = "".join(random.choices(string.ascii_letters + string.digits, k=3))
    return f"eval-{suffix}-{at.strftime('%Y-%m-%dT%H:%M:%S')}"


def target_for_case(target: Target, case: TestCaseSnapshot) -> Target:
    """The target as this case runs it: the test's ``prefix`` / ``suffix`` around the
    prompt and its ``options`` provider parameters over the target's."""
    info = case.metadata.get("promptfoo", {}) if isinstance(case.metadata, dict) else {}
    prefix, suffix = info.get("prefix") or "", info.get("suffix") or ""
    params = info.get("params") or {}
    if not (prefix or suffix or params):
        return target
    content = target.content
    if isinstance(content, str):
        content = f"{prefix}{content}{suffix}"
    elif prefix or suffix:
        content = [dict(m) for m in content]
        content[0]["content"] = f"{prefix}{content[0]['content']}"
        content[-1]["content"] = f"{content[-1]['content']}{suffix}"
    return target.model_copy(update={"content": content, "params": {**target.params, **params}})


def _chat_messages(text: str) -> list[dict[str, Any]] | None:
    """The messages of a rendered chat prompt (a JSON list of ``{role, content}``)."""
    try:
        parsed = parse_js_json(text)
    except ValueError:
        return None
    if isinstance(parsed, list) and parsed and all(
            isinstance(m, dict) and isinstance(m.get("role"), str) and "content" in m
            for m in parsed):
        return [dict(m) for m in parsed]
    return None


def promptfoo_renderer(prompt: PromptSpec, case: TestCaseSnapshot) -> PromptRenderer:
    """Render as promptfoo does (:mod:`.render`, Nunjucks): the test's ``prefix`` /
    ``suffix`` around the prompt's raw text, then ``renderPrompt``. A rendered chat
    prompt goes to the model as its messages; the ``echo`` model gets the rendered text
    itself, which is what promptfoo's echo provider answers with."""
    info = case.metadata.get("promptfoo", {}) if isinstance(case.metadata, dict) else {}
    raw = f"{info.get('prefix') or ''}{prompt.raw}{info.get('suffix') or ''}"

    async def render(target: Target, variables: dict[str, Any]) -> RenderedPrompt:
        prepared = prepare_vars(variables)
        text = await asyncio.to_thread(render_prompt, raw, prepared)
        messages = None if is_echo(target.model) else _chat_messages(text)
        return RenderedPrompt(messages=messages or [{"role": "user", "content": text}],
                              recorded=text, text=text, variables=prepared)

    return render



def caller_trace() -> dict[str, str] | None:
    """The run in the trace of the process that started it when the environment names
    one (``TRACEPARENT``, as CI systems and ``otel-cli`` set it), else None (a new
    trace)."""
    header = os.environ.get("TRACEPARENT")
    if tracing_context.parse_traceparent(header) is None:
        return None
    return tracing_context.allocate({"traceparent": header or ""})

async def run_plan(
    plan: EvalPlan,
    *,
    llm: LLMClient,
    concurrency: int = 4,
    repeat: int = 1,
    progress: Progress | None = None,
    cache: bool | None = None,
    grading: Grading | None = None,
    eval_id: str | None = None,
    part: tuple[int, int] | None = None,
) -> EvalOutcome:
    """Evaluate every case × target (× ``repeat``) with ``evaluate_case``, at most
    ``concurrency`` at a time. Results come back in promptfoo's order (test, repeat,
    target) whatever order they finished in. ``grading`` defaults to ``Grading(llm)``
    (judge: ``HARNESS_JUDGE_MODEL``). ``part=(i, n)``: only the i-th of n contiguous
    slices of the evaluations, without the comparisons across a test's outputs (whoever
    merges the parts applies them: ``harness.promptfoo.parallel``)."""
    if concurrency < 1:
        raise ValueError("concurrency must be ≥ 1")
    if repeat < 1:
        raise ValueError("repeat must be ≥ 1")
    grading = grading or Grading(llm=llm)
    started_at = datetime.now(UTC)
    eval_id = eval_id or new_eval_id(started_at)
    jobs = [(case, r, t) for case in plan.cases for r in range(repeat)
            for t in range(len(plan.targets)) if plan.runs(case, t)]
    if part is not None:
        i, n = part
        jobs = jobs[len(jobs) * i // n:len(jobs) * (i + 1) // n]
    total = len(jobs)
    gate = asyncio.Semaphore(concurrency)
    done = 0

    async def one(case: TestCaseSnapshot, r: int, t: int) -> CaseResult:
        nonlocal done
        target = target_for_case(plan.targets[t], case)
        async with gate:
            with spans.case(eval_id, case.id, input=case.input, repeat=r,
                            target_id=target.target_id, model=target.model) as span:
                try:
                    # a local eval runs the config author's own python/javascript/webhook
                    # assertions; the registry's runner never does (allow_code defaults off)
                    result = await evaluate_case(
                        grading, target, case, run_id=eval_id, repeat=r, cache=cache,
                        allow_code=True, render=promptfoo_renderer(plan.prompt_of(t), case),
                        defer_comparisons=True)
                except Exception as exc:  # noqa: BLE001 - one broken case must not stop it
                    message = f"{type(exc).__name__}: {exc}"
                    result = CaseResult(run_id=eval_id, case_id=case.id,
                                        target_id=target.target_id, repeat=r,
                                        status="error", reason=message, error=message)
                span.output(result.output)
                span.facts(status=result.status, score=result.score)
        done += 1
        if progress is not None:
            progress(done, total, result)
        return result

    clock = time.perf_counter()
    spans = spans_of(llm)  # the run's spans when its calls are exported (export_calls)
    with spans.run(eval_id, trace=caller_trace(),
                   input={"config": str(plan.config_path), "cases": len(plan.cases),
                          "targets": [t.label for t in plan.targets]}) as run_span:
        results = await asyncio.gather(*(one(*job) for job in jobs))
        # select-best / max-score: graded across each test's outputs once all are in
        if part is None:
            results = await apply_comparisons(plan, list(results), grading, repeat=repeat)
        run_span.output({s: sum(r.status == s for r in results)
                         for s in ("pass", "fail", "error")})
    duration_ms = (time.perf_counter() - clock) * 1000.0
    return EvalOutcome(
        eval_id=eval_id, results=list(results), repeat=repeat, concurrency=concurrency,
        started_at=started_at, finished_at=datetime.now(UTC), duration_ms=duration_ms,
    )

