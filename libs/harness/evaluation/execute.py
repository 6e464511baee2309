"""Evaluate one case on one target: render, call the model, grade. Shared by the runner
and ``harness eval``; pure apart from the LLM client it is given."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from harness import content_parts, templating
from harness.assertions import AssertionContext, evaluate_assertions
from harness.assertions.models import AssertionEvalError
from harness.assertions.scripts import js_json, run_transform
from harness.config import get_settings
from harness.llm import LLMClient, LLMError, LLMRequest
from harness.llm.echo import is_echo

from .models import CaseResult, Target, TestCaseSnapshot
from .providers import to_litellm_model

_PARAM_FIELDS = ("temperature", "max_tokens", "top_p")


def default_judge_model() -> str:
    """The judge when a run or an assertion names none (``HARNESS_JUDGE_MODEL``)."""
    return get_settings().judge_model


@dataclass
class Grading:
    """How model-backed assertions are served: the judge for ``llm-rubric`` and the
    embedder for ``similar``."""

    llm: LLMClient
    judge_model: str = dataclasses.field(default_factory=default_judge_model)
    judge_params: dict[str, Any] | None = None
    embedding_model: str | None = None  # None = the offline local model
    labels: dict[str, Any] | None = None  # copied onto judge calls (traces: run_id, ...)

    async def judge(self, messages: list[dict], provider: str | dict | None) -> str:
        model = self.judge_model
        params = dict(self.judge_params or {})
        if isinstance(provider, str):
            model = to_litellm_model(provider)
        elif isinstance(provider, dict) and provider.get("id"):
            model = to_litellm_model(provider["id"])
            params.update(provider.get("config") or {})
        resp = await self.llm.complete(LLMRequest(model=model, messages=messages, temperature=0,
                                                  params=params,
                                                  labels={**(self.labels or {}),
                                                          "purpose": "judge"}))
        return resp.output

    async def embed(self, texts: list[str]) -> list[list[float]]:
        return await self.llm.embed(texts, model=self.embedding_model)

    async def moderate(self, text: str, provider: str | dict | None) -> dict[str, float]:
        """Flagged moderation categories (``moderation`` assertion): OpenAI's moderation
        model through LiteLLM unless the assertion names a provider
        (``openai:moderation:<model>``, with ``config`` such as ``apiBaseUrl``)."""
        model, params = moderation_model(provider)
        return await self.llm.moderate(text, model, **params)


def moderation_model(provider: str | dict | None) -> tuple[str, dict[str, Any]]:
    pid = provider.get("id") if isinstance(provider, dict) else provider
    config = (provider.get("config") or {}) if isinstance(provider, dict) else {}
    model = "omni-moderation-latest"
    if isinstance(pid, str) and pid:
        model = pid.split(":")[-1] if pid.startswith("openai:") else pid
    params: dict[str, Any] = {}
    base = config.get("apiBaseUrl") or config.get("api_base") or config.get("apiHost")
    if base:
        params["api_base"] = base
    key = config.get("apiKey") or config.get("api_key")
    if key:
        params["api_key"] = key
    return model, params


@dataclass
class RenderedPrompt:
    """A case's prompt ready for the model: the messages to send, what to record as the
    rendered prompt, the prompt text assertions see, and the vars they see."""

    messages: list[dict[str, Any]]
    recorded: templating.Content
    text: str
    variables: dict[str, Any]


PromptRenderer = Callable[[Target, dict[str, Any]], Awaitable[RenderedPrompt]]
"""Renders a target's prompt with a case's vars; raising = the case errors."""


async def render_jinja(target: Target, variables: dict[str, Any]) -> RenderedPrompt:
    """Registry prompts: Jinja, every placeholder must have a value (rendered in a worker
    thread so a slow template never holds the event loop). The model gets every part;
    the result records (and assertions read) inline images, audio and files as a
    placeholder with their size and hash (``content_parts.omit_binary``)."""
    rendered = await templating.render_async(target.content, variables)
    recorded = content_parts.omit_binary(rendered)
    return RenderedPrompt(messages=templating.to_messages(rendered), recorded=recorded,
                          text=templating.as_prompt_text(recorded), variables=variables)


def build_request(target: Target, messages: list[dict], *, repeat: int,
                  cache: bool | None, run_id: str | None = None) -> LLMRequest:
    params = dict(target.params)
    fields = {k: params.pop(k) for k in _PARAM_FIELDS if k in params}
    labels = {"run_id": run_id, "prompt_id": target.prompt_id,
              "prompt_name": target.prompt_name, "prompt_version": target.prompt_version,
              "target_id": target.target_id,
              "application": target.application_name, "purpose": "case",
              # a composed prompt: what its references resolved to (traced with the call)
              "prompt_references": target.references or None}
    return LLMRequest(
        model=target.model, messages=messages, params=params,
        fallback_models=list(target.fallback_models), cache=cache,
        cache_salt=f"repeat-{repeat}", labels={k: v for k, v in labels.items() if v is not None},
        **fields,
    )


async def evaluate_case(
    grading: Grading,
    target: Target,
    case: TestCaseSnapshot,
    *,
    run_id: str,
    repeat: int = 0,
    default_assert: list[dict[str, Any]] | None = None,
    cache: bool | None = None,
    allow_code: bool = False,
    render: PromptRenderer | None = None,
    defer_comparisons: bool = False,
) -> CaseResult:
    base = {"run_id": run_id, "case_id": case.id, "target_id": target.target_id,
            "repeat": repeat}
    try:
        prompt = await (render or render_jinja)(target, dict(case.input))
    except templating.MissingVariablesError as exc:
        return CaseResult(**base, status="error", reason=str(exc), error=str(exc))
    except Exception as exc:  # a template that fails at render time (e.g. a bad filter)
        return CaseResult(**base, status="error", reason=f"render failed: {exc}",
                          error=f"render failed: {exc}")
    rendered = prompt.recorded
    req = build_request(target, prompt.messages, repeat=repeat, cache=cache, run_id=run_id)
    try:
        resp = await grading.llm.complete(req)
    except LLMError as exc:
        message = f"{exc.kind}: {exc.message} (model {exc.model}, {exc.attempts} attempts)"
        return CaseResult(**base, status="error", reason=message, error=message,
                          rendered_prompt=rendered)

    assertions = [*(default_assert or []), *case.assert_]
    ctx_vars = {**prompt.variables}
    if case.expected_output is not None:
        ctx_vars.setdefault("expected_output", case.expected_output)
    options = case.metadata.get("options", {}) if isinstance(case.metadata, dict) else {}
    ctx = AssertionContext(
        vars=ctx_vars, prompt=prompt.text, latency_ms=resp.latency_ms,
        cost_usd=resp.cost_usd, embed=grading.embed, judge=grading.judge, options=options,
        # promptfoo's echo provider reports no finish reason; ours says "stop"
        finish_reason=None if is_echo(resp.model) else resp.finish_reason,
        moderate=grading.moderate, allow_code=allow_code,
        comparisons_deferred=defer_comparisons,
        provider_id=target.model.replace("/", ":", 1),
        provider_config={k: target.params[k] for k in ("tools", "functions")
                         if k in target.params},
        test={"vars": prompt.variables, "assert": case.assert_, "options": options,
              "description": case.metadata.get("description")
              if isinstance(case.metadata, dict) else None},
    )
    output = resp.output
    transform = options.get("transform") if isinstance(options, dict) else None
    if transform:  # promptfoo's test options.transform: the output every assertion sees
        try:
            if not allow_code:
                raise AssertionEvalError("output transforms run code and only run in "
                                         "`harness eval` on your own config")
            new = await run_transform(str(transform), output, ctx)
        except AssertionEvalError as exc:
            return CaseResult(**base, status="error", reason=str(exc), error=str(exc),
                              output=resp.output, rendered_prompt=rendered)
        output = new if isinstance(new, str) else js_json(new)
        ctx = dataclasses.replace(ctx, raw_output=new)
    graded = await evaluate_assertions(assertions, output, ctx, threshold=case.threshold)
    status = "error" if graded.error else ("pass" if graded.passed else "fail")
    return CaseResult(
        **base, status=status, score=graded.score, reason=graded.reason, output=output,
        rendered_prompt=rendered,
        assertions=[c.model_dump() for c in graded.components],
        named_scores=graded.named_scores, latency_ms=resp.latency_ms,
        prompt_tokens=resp.prompt_tokens, completion_tokens=resp.completion_tokens,
        total_tokens=resp.total_tokens, cost_usd=resp.cost_usd, model=resp.model,
        cached=resp.cached, error=None if not graded.error else graded.reason,
    )
