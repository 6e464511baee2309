"""Model routing: LiteLLM's Router per model (retries with backoff, per-request timeout),
ordered fallbacks and a cooldown table of our own.

Why the cooldown table is ours: LiteLLM's Router deliberately never cools down the only
deployment of a model group, and every model a gateway caller names is its own group
(a fallback is another model, not another deployment of the same one). So a failing or
out-of-quota model is cooled down here and skipped by later requests' chains until its
cooldown ends. Errors are classified with ``harness.llm.errors.classify`` (shared with the
runner), which also tells "quota exhausted" apart from a plain rate limit.

Only provider health failures (5xx, timeouts, connection errors, upstream 429 and quota)
cool a model down. A request the model cannot serve (a bad request, an operation it does
not support) or a configuration error (no credentials, a rejected key) is answered as
such and leaves the model usable by everyone else; missing credentials are found before
any call, so they are never retried either.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import structlog

from harness.llm._litellm import litellm
from harness.llm.credentials import missing_credentials
from harness.llm.echo import ECHO_MODEL, echo_output, estimate_tokens, is_echo
from harness.llm.errors import FALLBACK_KINDS, HEALTH_KINDS, Classified, classify

from .config import GatewaySettings

log = structlog.get_logger(__name__)

# The gateway records tokens, cost and traces itself: LiteLLM's own logging pipeline
# (success callbacks, cost tracking in a thread pool) would only add CPU per call.
_NO_LOG = {"no-log": True}


def _echo(model: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The built-in offline ``echo`` model answers with the prompt it was given."""
    if not is_echo(model):
        return kwargs
    return {**kwargs, "mock_response": echo_output(kwargs["messages"])}


class UpstreamError(Exception):
    """Every model of the chain failed (or a non-fallback error stopped it)."""

    def __init__(self, kind: str, message: str, status: int | None,
                 history: list[dict[str, Any]], retry_after_s: float | None = None) -> None:
        super().__init__(f"[{kind}] {message}")
        self.kind, self.message, self.status = kind, message, status
        self.history = history
        self.retry_after_s = retry_after_s

    @property
    def http_status(self) -> int:
        if self.kind in ("bad_request", "unsupported"):
            return 400
        if self.kind == "config":
            return 422
        if self.kind in ("rate_limit", "quota", "cooldown"):
            return 429
        if self.kind == "timeout":
            return 504
        if self.kind == "not_found":
            return 404
        return 502


@dataclass
class Routed:
    model: str                      # the model that answered
    response: Any                   # LiteLLM response (or first stream chunk)
    attempts: int
    history: list[dict[str, Any]] = field(default_factory=list)
    stream: AsyncIterator[Any] | None = None


class ModelRouter:
    def __init__(self, settings: GatewaySettings) -> None:
        self.settings = settings
        lm = litellm()
        # cooldowns are ours (above): the Router's own bookkeeping would only cost CPU
        self._router = lm.Router(model_list=[], num_retries=settings.num_retries,
                                 timeout=settings.timeout_s, retry_after=0,
                                 disable_cooldowns=True)
        self._models: list[dict[str, Any]] = []
        self._known: set[str] = set()
        self._lock = asyncio.Lock()
        self.cooldowns: dict[str, float] = {}      # model -> monotonic time it ends
        self._fails: dict[str, list[float]] = {}    # model -> failure times (last minute)

    # ------------------------------------------------------------- deployments
    def _ensure(self, models: list[str]) -> None:
        """Register a deployment for each model not seen yet; an id LiteLLM cannot route
        (no provider) is a 404 naming it, and is not registered."""
        new = [m for m in models if m not in self._known]
        if not new:
            return
        lm = litellm()
        for m in new:
            # echo: LiteLLM's mock provider answers with the text given per call (below)
            params = {"model": "openai/echo"} if is_echo(m) else \
                {"model": m, **self.settings.params_for(m)}
            try:
                lm.get_llm_provider(params["model"], api_base=params.get("api_base"))
            except Exception as exc:  # noqa: BLE001 - LiteLLM's BadRequestError
                raise UpstreamError("not_found", f"model {m!r} is not a known model, alias "
                                    "or provider id (LiteLLM: provider/model, e.g. "
                                    "openai/gpt-4o-mini)", 404,
                                    [{"model": m, "kind": "not_found"}]) from exc
            self._models.append({"model_name": m, "litellm_params": params})
            self._known.add(m)
        self._router.set_model_list(list(self._models))

    # ------------------------------------------------------------- cooldown
    def cooling(self, model: str) -> float:
        """Seconds left of ``model``'s cooldown (0 = usable)."""
        until = self.cooldowns.get(model)
        if until is None:
            return 0.0
        left = until - time.monotonic()
        if left <= 0:
            self.cooldowns.pop(model, None)
            return 0.0
        return left

    def cool_down(self, model: str, reason: str) -> None:
        self.cooldowns[model] = time.monotonic() + self.settings.cooldown_s
        self._fails.pop(model, None)
        log.warning("gateway.cooldown", model=model, reason=reason,
                    seconds=self.settings.cooldown_s)

    def _failed(self, model: str, kind: str) -> None:
        if kind not in HEALTH_KINDS:  # the caller's or the configuration's, not the model's
            return
        if kind == "quota":
            self.cool_down(model, "quota")
            return
        now = time.monotonic()
        recent = [t for t in self._fails.get(model, []) if now - t < 60] + [now]
        self._fails[model] = recent
        if len(recent) >= self.settings.allowed_fails:
            self.cool_down(model, kind)

    def _order(self, chain: list[str]) -> list[str]:
        usable = [m for m in chain if self.cooling(m) == 0]
        if not usable:
            wait = min(self.cooling(m) for m in chain)
            raise UpstreamError("cooldown", "every model of the chain is cooling down: "
                                + ", ".join(chain), 429, [], retry_after_s=wait)
        return usable

    # ------------------------------------------------------------- calls
    async def _chain(self, chain: list[str], call) -> Routed:
        self._ensure(chain)
        history: list[dict[str, Any]] = []
        attempts = 0
        last = None
        for model in self._order(chain):
            missing = missing_credentials(model, self.settings.params_for(model))
            if missing:  # configuration: no call, no retry, no cooldown; next model
                message = (f"model {model!r} has no provider credentials: set "
                           f"{' or '.join(missing)} in the gateway's environment (or an "
                           "api_key for it in HARNESS_GATEWAY_DEPLOYMENTS)")
                history.append({"model": model, "kind": "config", "status": None,
                                "message": message, "missing": missing})
                last = Classified("config", message)
                continue
            attempts += 1
            try:
                routed = await call(model)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - classified below
                c = classify(exc)
                history.append({"model": model, "kind": c.kind, "status": c.status_code,
                                "message": c.message[:500]})
                last = c
                if c.kind == "bad_request" and not c.context_window:
                    raise UpstreamError(c.kind, c.message, c.status_code, history) from exc
                self._failed(model, c.kind)
                if c.kind not in FALLBACK_KINDS:
                    raise UpstreamError(c.kind, c.message, c.status_code, history) from exc
                continue
            self._fails.pop(model, None)
            routed.attempts, routed.history = attempts, history
            return routed
        assert last is not None
        raise UpstreamError(last.kind, last.message, last.status_code, history,
                            retry_after_s=last.retry_after_s)

    async def complete(self, chain: list[str], kwargs: dict[str, Any],
                       timeout_s: float | None = None) -> Routed:
        async def call(model: str) -> Routed:
            resp = await self._router.acompletion(
                model=model, timeout=timeout_s or self.settings.timeout_s, **_NO_LOG,
                **_echo(model, kwargs))
            if is_echo(model) and resp.usage is not None:  # the mock's usage is a constant
                resp.usage.prompt_tokens = estimate_tokens(echo_output(kwargs["messages"]))
                resp.usage.completion_tokens = estimate_tokens(
                    resp.choices[0].message.content or "")
                resp.usage.total_tokens = resp.usage.prompt_tokens + \
                    resp.usage.completion_tokens
            return Routed(model, resp, 0)

        return await self._chain(chain, call)

    async def stream(self, chain: list[str], kwargs: dict[str, Any],
                     timeout_s: float | None = None) -> Routed:
        """Open a stream and read its first chunk; a failure before that falls back."""
        timeout = timeout_s or self.settings.timeout_s

        async def call(model: str) -> Routed:
            s = await self._router.acompletion(model=model, stream=True, timeout=timeout,
                                               **_NO_LOG, **_echo(model, kwargs))
            it = s.__aiter__()
            try:
                first = await asyncio.wait_for(it.__anext__(), timeout)
            except StopAsyncIteration:
                first = None
            return Routed(model, first, 0, stream=it)

        return await self._chain(chain, call)

    async def embed(self, chain: list[str], kwargs: dict[str, Any],
                    timeout_s: float | None = None) -> Routed:
        chain = [m for m in chain if not is_echo(m)]  # echo answers chat only
        if not chain:  # the caller's error, not the model's: no call, no cooldown
            raise UpstreamError("unsupported", f"model {ECHO_MODEL!r} does not support "
                                "embeddings: the built-in echo model only answers chat "
                                "completions", 400,
                                [{"model": ECHO_MODEL, "kind": "unsupported"}])

        async def call(model: str) -> Routed:
            resp = await self._router.aembedding(
                model=model, timeout=timeout_s or self.settings.timeout_s, **kwargs)
            return Routed(model, resp, 0)

        return await self._chain(chain, call)
