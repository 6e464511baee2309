"""LLMClient: chat completions through LiteLLM with our own retries, fallbacks, cache,
token and cost accounting, plus embeddings (local model or LiteLLM)."""

from __future__ import annotations

import asyncio
import base64
import json
import random
import struct
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

import structlog
from pydantic import ValidationError

from . import pricing
from ._litellm import is_warm as _litellm_warm
from ._litellm import litellm
from ._litellm import warm as _warm_litellm
from .cache import MemoryCache, ResponseCache, cache_key
from .credentials import check_credentials
from .echo import echo_output, estimate_tokens, is_echo, prompt_text
from .errors import FALLBACK_KINDS, RETRYABLE_KINDS, classify
from .models import LLMCall, LLMError, LLMRequest, LLMResponse

log = structlog.get_logger(__name__)

T = TypeVar("T")

LOCAL_EMBEDDING_MODELS = frozenset(
    {"local", "all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"}
)
# Keys a caller cannot override through ``params``: they are the request's own fields
# or the wrapper's retry/transport policy.
_RESERVED_PARAMS = frozenset({"model", "messages", "stream", "num_retries", "max_retries"})


class LLMClient:
    """Chat completions and embeddings with exact retry/fallback accounting.

    ``cache``: a :class:`ResponseCache`; None (default) gives the client its own
    :class:`MemoryCache`; ``False`` disables caching whatever the request says.
    ``prices``: ``{model: {"input_cost_per_token": x, "output_cost_per_token": y}}``,
    consulted before LiteLLM's cost map (keys: the full id or the id without provider).
    ``observers``: called with an :class:`LLMCall` after every completion (answered,
    cached or failed); they must be quick (e.g. queue a trace) and never raise into calls.
    ``deployments``: server configuration, ``{model: {api_base, api_key, ...}}`` (``"*"``:
    every model not listed), merged over each call's params: a service's requests carry
    only LLM options (``harness.llm.options``), so endpoints and keys come from here.
    """

    def __init__(
        self,
        *,
        cache: ResponseCache | Literal[False] | None = None,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 8.0,
        prices: dict[str, dict] | None = None,
        observers: list[Callable[[LLMCall], None]] | None = None,
        deployments: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        if backoff_base_s < 0 or backoff_max_s < 0:
            raise ValueError("backoff must be non-negative")
        self.cache: ResponseCache | None = (
            None if cache is False else (cache if cache is not None else MemoryCache())
        )
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self.prices: dict[str, dict] = dict(prices or {})
        self._key_locks: dict[str, tuple[asyncio.Lock, int]] = {}
        self.observers: list[Callable[[LLMCall], None]] = list(observers or [])
        self.deployments: dict[str, dict[str, Any]] = {
            k: dict(v) for k, v in (deployments or {}).items()}

    def deployment(self, model: str) -> dict[str, Any]:
        """The configured endpoint and credentials of ``model`` (or of ``"*"``)."""
        found = self.deployments.get(model, self.deployments.get("*"))
        return dict(found or {})

    async def warmup(self, *, local_embeddings: bool = False) -> None:
        """Import and warm up LiteLLM (seconds, once per process) and optionally load the
        local embedding model, off the event loop. Calls do this themselves when needed,
        outside the time they report as ``latency_ms``."""
        if not _litellm_warm():
            await asyncio.to_thread(_warm_litellm)
        if local_embeddings:
            from .local_embeddings import get_local_embedder

            await asyncio.to_thread(get_local_embedder().load)

    # ------------------------------------------------------------------ completions
    async def complete(self, req: LLMRequest) -> LLMResponse:
        """Answer ``req``; raise :class:`LLMError` when no model in the chain could."""
        if not _litellm_warm() and not all(map(is_echo, [req.model, *req.fallback_models])):
            await self.warmup()  # not counted in latency_ms, not on the event loop
        if not self.observers:
            return await self._complete(req)
        started_at = datetime.now(UTC)
        started = time.perf_counter()
        try:
            resp = await self._complete(req)
        except LLMError as exc:
            self._notify(LLMCall(req, started_at, (time.perf_counter() - started) * 1000.0,
                                 error=exc))
            raise
        self._notify(LLMCall(req, started_at, resp.latency_ms, response=resp))
        return resp

    def _notify(self, call: LLMCall) -> None:
        for observer in self.observers:
            try:
                observer(call)
            except Exception as exc:  # noqa: BLE001 - observing never fails a call
                log.warning("llm.observer_failed", error=str(exc))

    async def _complete(self, req: LLMRequest) -> LLMResponse:
        started = time.perf_counter()
        if self.cache is None or not req.cache_enabled():
            return await self._complete_uncached(req, started)

        key = cache_key(req)
        hit = await self._cache_get(key, started)
        if hit is not None:
            return hit
        # Identical concurrent requests wait for the first one and share its answer.
        lock = self._acquire_key_lock(key)
        try:
            async with lock:
                hit = await self._cache_get(key, started)
                if hit is not None:
                    return hit
                resp = await self._complete_uncached(req, started)
                if resp.model == req.model:  # a fallback's answer is not the primary's
                    await self._cache_set(key, resp)
                return resp
        finally:
            self._release_key_lock(key)

    async def _complete_uncached(self, req: LLMRequest, started: float) -> LLMResponse:
        models = [req.model, *req.fallback_models]

        async def call(model: str) -> LLMResponse:
            return await self._call_model(model, req)

        resp, attempts = await self._with_retries(models, req.max_retries, call)
        return resp.model_copy(
            update={
                "attempts": attempts,
                "latency_ms": (time.perf_counter() - started) * 1000.0,
            }
        )

    async def _call_model(self, model: str, req: LLMRequest) -> LLMResponse:
        if is_echo(model):
            return self._echo(model, req)
        kwargs: dict[str, Any] = {
            k: v for k, v in {**req.params_for(model), **self.deployment(model)}.items()
            if k not in _RESERVED_PARAMS
        }
        for name in ("temperature", "max_tokens", "top_p"):
            value = getattr(req, name)
            if value is not None:
                kwargs[name] = value
        kwargs["timeout"] = req.timeout_s
        check_credentials(model, kwargs)  # a missing key: one "config" error, no call
        pricing.register_with_litellm(model, self.prices)  # once per model: no fuzzy lookup
        lm = litellm()
        async with asyncio.timeout(req.timeout_s):  # a hard deadline over LiteLLM's own
            raw = await lm.acompletion(
                model=model,
                messages=req.messages,
                num_retries=0,  # LiteLLM's retries
                max_retries=0,  # the provider SDK's retries (openai defaults to 2)
                # harness records tokens, cost and traces itself; skipping LiteLLM's own
                # logging pipeline saves about a third of its CPU per call
                **{"no-log": True},
                **kwargs,
            )
        return self._parse_completion(model, raw)

    def _parse_completion(self, model: str, raw: Any) -> LLMResponse:
        choices = getattr(raw, "choices", None) or []
        output, finish_reason = "", None
        if choices:
            choice = choices[0]
            message = getattr(choice, "message", None)
            finish_reason = getattr(choice, "finish_reason", None)
            content = getattr(message, "content", None)
            tool_calls = getattr(message, "tool_calls", None)
            if content is not None:
                output = content if isinstance(content, str) else json.dumps(content)
            elif tool_calls:
                output = json.dumps(
                    [tc.model_dump() if hasattr(tc, "model_dump") else tc for tc in tool_calls],
                    ensure_ascii=False,
                    default=str,
                )
        usage = getattr(raw, "usage", None)
        prompt_tokens = _int_or_none(getattr(usage, "prompt_tokens", None))
        completion_tokens = _int_or_none(getattr(usage, "completion_tokens", None))
        total_tokens = _int_or_none(getattr(usage, "total_tokens", None))
        if total_tokens is None and prompt_tokens is not None and completion_tokens is not None:
            total_tokens = prompt_tokens + completion_tokens
        cost = None
        if prompt_tokens is not None or completion_tokens is not None:
            hidden = getattr(raw, "_hidden_params", None)
            cost = pricing.completion_cost(
                model, prompt_tokens, completion_tokens, response=raw, prices=self.prices,
                litellm_cost=hidden.get("response_cost") if isinstance(hidden, dict) else None,
            )
        return LLMResponse(
            output=output,
            model=model,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            total_tokens=total_tokens,
            cost_usd=cost,
            latency_ms=0.0,
            finish_reason=finish_reason,
        )

    def _echo(self, model: str, req: LLMRequest) -> LLMResponse:
        output = echo_output(req.messages)
        prompt_tokens = estimate_tokens(prompt_text(req.messages))
        completion_tokens = estimate_tokens(output)
        cost = pricing.completion_cost(model, prompt_tokens, completion_tokens,
                                       prices=self.prices)
        return LLMResponse(
            output=output,
            model=model,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            total_tokens=prompt_tokens + completion_tokens,
            cost_usd=cost,
            latency_ms=0.0,
            finish_reason="stop",
        )

    # ------------------------------------------------------------------ embeddings
    async def embed(
        self,
        texts: list[str],
        model: str | None = None,
        *,
        max_retries: int = 3,
        timeout_s: float = 60.0,
        **params: Any,
    ) -> list[list[float]]:
        """One vector per text. ``model`` None or "local": the bundled all-MiniLM-L6-v2
        (384 dimensions, normalized, offline). Any other id goes to ``litellm.aembedding``
        with ``params`` (api_base, api_key, dimensions, ...)."""
        texts = list(texts)
        if not texts:
            return []
        if model is None or model.lower() in LOCAL_EMBEDDING_MODELS:
            from .local_embeddings import embed_local  # imports torch: only when used

            return await embed_local(texts)
        await self.warmup()

        async def call(name: str) -> list[list[float]]:
            kwargs = {k: v for k, v in {**params, **self.deployment(name)}.items()
                      if k not in _RESERVED_PARAMS}
            kwargs["timeout"] = timeout_s
            check_credentials(name, kwargs)
            lm = litellm()
            async with asyncio.timeout(timeout_s):
                raw = await lm.aembedding(
                    model=name, input=texts, num_retries=0, max_retries=0, **kwargs
                )
            return _parse_embeddings(raw, len(texts))

        vectors, _ = await self._with_retries([model], max_retries, call)
        return vectors

    # ------------------------------------------------------------------ moderation
    async def moderate(
        self,
        text: str,
        model: str = "omni-moderation-latest",
        *,
        max_retries: int = 3,
        timeout_s: float = 60.0,
        **params: Any,
    ) -> dict[str, float]:
        """The moderation categories ``litellm.amoderation`` flags for ``text``, each with
        its score; {} when nothing is flagged."""
        await self.warmup()

        async def call(name: str) -> dict[str, float]:
            kwargs = {k: v for k, v in params.items() if k not in _RESERVED_PARAMS}
            lm = litellm()
            async with asyncio.timeout(timeout_s):
                raw = await lm.amoderation(model=name, input=text, **kwargs)
            data = raw.model_dump() if hasattr(raw, "model_dump") else dict(raw)
            flagged: dict[str, float] = {}
            for result in data.get("results") or []:
                scores = result.get("category_scores") or {}
                for category, hit in (result.get("categories") or {}).items():
                    if hit:
                        flagged[category] = float(scores.get(category) or 0.0)
            return flagged

        flags, _ = await self._with_retries([model], max_retries, call)
        return flags

    # ------------------------------------------------------------------ retry loop
    async def _with_retries(
        self,
        models: list[str],
        max_retries: int,
        call: Callable[[str], Awaitable[T]],
    ) -> tuple[T, int]:
        """Try each model up to ``1 + max_retries`` times (retryable kinds only), then
        the next model. Returns the result and the number of calls made."""
        attempts = 0
        history: list[dict[str, Any]] = []
        last: LLMError | None = None
        for model in models:
            for retry in range(max_retries + 1):
                attempts += 1
                try:
                    result = await call(model)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # noqa: BLE001 - classified below
                    c = classify(exc)
                    history.append({"model": model, "kind": c.kind, "message": c.message})
                    last = LLMError(
                        c.kind, c.message, model=model, attempts=attempts,
                        status_code=c.status_code, history=list(history),
                    )
                    will_retry = c.kind in RETRYABLE_KINDS and retry < max_retries
                    log.warning(
                        "llm.call_failed",
                        model=model,
                        kind=c.kind,
                        status_code=c.status_code,
                        attempt=attempts,
                        will_retry=will_retry,
                        error=c.message[:300],
                    )
                    if will_retry:
                        await asyncio.sleep(self._backoff(retry, c.retry_after_s))
                        continue
                    if c.kind not in FALLBACK_KINDS and not c.context_window:
                        raise last from exc
                    break  # next model
                else:
                    if attempts > 1:
                        log.info("llm.recovered", model=model, attempts=attempts)
                    return result, attempts
        assert last is not None  # models is never empty
        raise last

    def _backoff(self, retry: int, retry_after_s: float | None = None) -> float:
        """Exponential backoff with jitter (50-100% of base*2^retry, capped), at least
        the server's Retry-After when it gave one (also capped)."""
        ceiling = min(self.backoff_max_s, self.backoff_base_s * (2**retry))
        delay = ceiling * random.uniform(0.5, 1.0)
        if retry_after_s is not None:
            delay = max(delay, min(retry_after_s, self.backoff_max_s))
        return delay

    # ------------------------------------------------------------------ cache helpers
    async def _cache_get(self, key: str, started: float) -> LLMResponse | None:
        assert self.cache is not None
        try:
            stored = await self.cache.get(key)
        except Exception as exc:  # noqa: BLE001 - a broken cache must not fail the call
            log.warning("llm.cache_get_failed", error=str(exc))
            return None
        if stored is None:
            return None
        try:
            resp = LLMResponse.model_validate(stored)
        except ValidationError as exc:
            log.warning("llm.cache_entry_invalid", error=str(exc)[:300])
            return None
        return resp.model_copy(
            update={
                "cached": True,
                "attempts": 0,
                "latency_ms": (time.perf_counter() - started) * 1000.0,
            }
        )

    async def _cache_set(self, key: str, resp: LLMResponse) -> None:
        assert self.cache is not None
        try:
            await self.cache.set(key, resp.model_dump(mode="json"))
        except Exception as exc:  # noqa: BLE001
            log.warning("llm.cache_set_failed", error=str(exc))

    def _acquire_key_lock(self, key: str) -> asyncio.Lock:
        lock, users = self._key_locks.get(key, (None, 0))
        if lock is None:
            lock = asyncio.Lock()
        self._key_locks[key] = (lock, users + 1)
        return lock

    def _release_key_lock(self, key: str) -> None:
        lock, users = self._key_locks[key]
        if users <= 1:
            del self._key_locks[key]
        else:
            self._key_locks[key] = (lock, users - 1)


def _int_or_none(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) else None


def _parse_embeddings(raw: Any, expected: int) -> list[list[float]]:
    data = getattr(raw, "data", None)
    if data is None and isinstance(raw, Mapping):
        data = raw.get("data")
    items = []
    for position, item in enumerate(data or []):
        get = item.get if isinstance(item, Mapping) else lambda k, _i=item: getattr(_i, k, None)
        index = get("index")
        vector = get("embedding")
        if isinstance(vector, str):  # encoding_format="base64": little-endian float32
            buf = base64.b64decode(vector)
            vector = list(struct.unpack(f"<{len(buf) // 4}f", buf))
        items.append((index if isinstance(index, int) else position, [float(x) for x in vector]))
    items.sort(key=lambda pair: pair[0])
    if len(items) != expected:
        raise ValueError(f"embedding response has {len(items)} vectors for {expected} inputs")
    return [vector for _, vector in items]
