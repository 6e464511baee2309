"""Request, response and error types of the LLM wrapper."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

ErrorKind = Literal[
    "rate_limit", "server", "timeout", "connection", "bad_request", "auth", "not_found",
    "quota", "config", "unknown",
]
ERROR_KINDS: tuple[str, ...] = (
    "rate_limit", "server", "timeout", "connection", "bad_request", "auth", "not_found",
    "quota", "config", "unknown",
)


class LLMRequest(BaseModel):
    """One chat completion to make, with its retry, fallback and cache policy."""

    model: str = Field(description='any LiteLLM model id ("openai/gpt-4o-mini") or "echo"')
    messages: list[dict[str, Any]] = Field(description="OpenAI chat messages")
    temperature: float | None = None
    max_tokens: int | None = None
    top_p: float | None = None
    params: dict[str, Any] = Field(
        default_factory=dict,
        description="other LiteLLM kwargs (api_base, api_key, stop, response_format, seed, ...)",
    )
    fallback_models: list[str] = Field(
        default_factory=list,
        description="tried in order after the primary model exhausts its retries",
    )
    model_params: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="per-model overrides merged over params, e.g. a fallback's api_base/api_key",
    )
    timeout_s: float = Field(default=60.0, gt=0)
    max_retries: int = Field(
        default=3, ge=0,
        description="retries per model on 429 / 5xx / timeout / connection errors",
    )
    cache: bool | None = Field(default=None, description="None = on when temperature == 0")
    cache_salt: str | None = Field(
        default=None, description='entries with different salts are never shared ("repeat-2")'
    )
    labels: dict[str, Any] = Field(
        default_factory=dict,
        description="what the call is for (source, run_id, prompt_id, prompt_version, ...): "
                    "copied to the call's trace, not part of the cache key",
    )

    def cache_enabled(self) -> bool:
        if self.cache is not None:
            return self.cache
        return self.temperature is not None and self.temperature == 0

    def params_for(self, model: str) -> dict[str, Any]:
        """``params`` with ``model_params[model]`` merged over them."""
        return {**self.params, **self.model_params.get(model, {})}


class LLMResponse(BaseModel):
    """The answer, who gave it, and what it took."""

    output: str
    model: str = Field(description="the model that actually answered (after fallback)")
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    cost_usd: float | None = Field(
        default=None, description="None = price unknown (never 0 for an unknown price)"
    )
    latency_ms: float
    cached: bool = False
    attempts: int = Field(
        default=1, description="model calls made, retries and fallbacks included (0 = cache hit)"
    )
    finish_reason: str | None = None


class LLMError(Exception):
    """A call that failed for good: non-retryable, or retries and fallbacks exhausted."""

    kind: str
    model: str
    attempts: int
    message: str
    status_code: int | None
    history: list[dict[str, Any]]  # every failed call: {"model", "kind", "message"}

    def __init__(
        self,
        kind: str,
        message: str,
        *,
        model: str,
        attempts: int,
        status_code: int | None = None,
        history: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(f"[{kind}] {model}: {message}")
        self.kind = kind
        self.model = model
        self.attempts = attempts
        self.message = message
        self.status_code = status_code
        self.history = list(history or [])

    def __reduce__(self) -> Any:
        return (
            _rebuild_error,
            (self.kind, self.message, self.model, self.attempts, self.status_code, self.history),
        )

    def __repr__(self) -> str:
        return (
            f"LLMError(kind={self.kind!r}, model={self.model!r}, attempts={self.attempts}, "
            f"message={self.message!r})"
        )


@dataclass
class LLMCall:
    """One finished :meth:`LLMClient.complete` (answered, cached or failed), as observers
    see it."""

    request: LLMRequest
    started_at: datetime
    latency_ms: float
    response: LLMResponse | None = None
    error: LLMError | None = None


def _rebuild_error(
    kind: str,
    message: str,
    model: str,
    attempts: int,
    status_code: int | None,
    history: list[dict[str, Any]],
) -> LLMError:
    return LLMError(
        kind, message, model=model, attempts=attempts, status_code=status_code, history=history
    )
