"""Judge calls for one metric on one case, with their accounting (embeddings too).

Nothing here imports Ragas: the Ragas adapters (``_ragas.py``) delegate to these.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from harness.assertions.values import find_json_values
from harness.llm import LLMClient, LLMRequest, LLMResponse

M = TypeVar("M", bound=BaseModel)

JUDGE_SYSTEM_PROMPT = (
    "You are an evaluation judge. Follow the task exactly and reply with one JSON object "
    "that matches the requested schema: no prose and no code fences around it."
)
_REPAIR_PROMPT = (
    "Your reply could not be used: {error}\n"
    "Reply again with only the JSON object, matching this JSON Schema:\n{schema}"
)
_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.S)


class JudgeOutputError(Exception):
    """The judge answered, but not with JSON matching the expected shape."""


@dataclass
class JudgeConfig:
    """How judge calls are made: model, LiteLLM params, retries and the parse repair."""

    model: str
    params: dict[str, Any] = field(default_factory=dict)  # api_base, api_key, ...
    fallback_models: list[str] = field(default_factory=list)
    max_retries: int = 3
    timeout_s: float = 60.0
    max_tokens: int | None = None
    parse_retries: int = 1  # follow-up requests asking for valid JSON after a bad answer
    system_prompt: str | None = JUDGE_SYSTEM_PROMPT


@dataclass
class Usage:
    judge_calls: int = 0
    cached_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = 0.0
    embedding_calls: int = 0
    # the judge's parsed answers in the order they were asked for (None: none yet)
    outputs: list[tuple[str, dict[str, Any] | None]] = field(default_factory=list)

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def add_response(self, resp: LLMResponse) -> None:
        self.judge_calls += 1
        if resp.cached:
            self.cached_calls += 1
            return  # already paid for by the call that filled the cache
        self.prompt_tokens += resp.prompt_tokens or 0
        self.completion_tokens += resp.completion_tokens or 0
        self.add_cost(resp.cost_usd)

    def add_cost(self, cost: float | None) -> None:
        if cost is None or self.cost_usd is None:
            self.cost_usd = None
        else:
            self.cost_usd += cost

    def outputs_of(self, model_name: str) -> list[dict[str, Any]]:
        return [data for name, data in self.outputs if name == model_name and data is not None]


def parse_structured(text: str, model: type[M]) -> M:
    """The first JSON object in ``text`` (bare, fenced, or inside prose) that validates
    as ``model``; raise :class:`JudgeOutputError` saying why none did."""
    candidates: list[Any] = []
    for chunk in [*(m.group(1) for m in _FENCE.finditer(text)), text]:
        for value in find_json_values(chunk):
            if isinstance(value, dict):
                candidates.append(value)
            elif isinstance(value, list):
                candidates.extend(v for v in value if isinstance(v, dict))
    if not candidates:
        snippet = text.strip().replace("\n", " ")[:200]
        raise JudgeOutputError(f"the judge's answer has no JSON object: {snippet!r}")
    first_error: ValidationError | None = None
    for candidate in candidates:
        try:
            return model.model_validate(candidate)
        except ValidationError as exc:
            first_error = first_error or exc
    assert first_error is not None
    problems = "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}"
        for e in first_error.errors()[:3]
    )
    raise JudgeOutputError(f"the judge's JSON does not match {model.__name__}: {problems}")


class JudgeSession:
    """Judge calls for one metric on one case: through ``LLMClient.complete`` (cached at
    temperature 0, retried), under the shared concurrency limit, counted in ``usage``."""

    def __init__(
        self, llm: LLMClient, config: JudgeConfig, limiter: asyncio.Semaphore,
        usage: Usage | None = None,
    ) -> None:
        self.llm = llm
        self.config = config
        self.limiter = limiter
        self.usage = usage if usage is not None else Usage()

    def _request(self, messages: list[dict[str, Any]]) -> LLMRequest:
        c = self.config
        return LLMRequest(
            model=c.model, messages=messages, temperature=0.0, max_tokens=c.max_tokens,
            params=dict(c.params), fallback_models=list(c.fallback_models),
            timeout_s=c.timeout_s, max_retries=c.max_retries,
        )

    async def _complete(self, messages: list[dict[str, Any]]) -> str:
        async with self.limiter:
            resp = await self.llm.complete(self._request(messages))
        self.usage.add_response(resp)
        return resp.output

    async def generate(self, prompt: str, response_model: type[M]) -> M:
        """Ask the judge ``prompt`` and read its answer as ``response_model``."""
        messages: list[dict[str, Any]] = []
        if self.config.system_prompt:
            messages.append({"role": "system", "content": self.config.system_prompt})
        messages.append({"role": "user", "content": prompt})
        # the answer's place is taken now: concurrent calls keep the order they were asked in
        slot = len(self.usage.outputs)
        self.usage.outputs.append((response_model.__name__, None))
        output = await self._complete(messages)
        for attempt in range(self.config.parse_retries + 1):
            try:
                parsed = parse_structured(output, response_model)
            except JudgeOutputError as exc:
                if attempt >= self.config.parse_retries:
                    raise
                schema = json.dumps(response_model.model_json_schema(), ensure_ascii=False)
                messages = [
                    *messages,
                    {"role": "assistant", "content": output},
                    {"role": "user", "content": _REPAIR_PROMPT.format(error=exc, schema=schema)},
                ]
                output = await self._complete(messages)
            else:
                self.usage.outputs[slot] = (response_model.__name__, parsed.model_dump())
                return parsed
        raise AssertionError("unreachable")  # pragma: no cover
