"""Map exceptions raised by LiteLLM (and the transport under it) to an error kind."""

from __future__ import annotations

import asyncio
import email.utils
import re
import time
from dataclasses import dataclass
from typing import Any

from ._litellm import litellm
from .credentials import MissingCredentials

RETRYABLE_KINDS = frozenset({"rate_limit", "server", "timeout", "connection"})
# Kinds after which the next fallback model is tried (a bad request is the caller's bug,
# the same on every model, so it stops the chain, except a context-window overflow).
# "config" (no credentials for the provider) is never retried: only a fix of the
# configuration makes it work, but another model of the chain may be configured.
FALLBACK_KINDS = RETRYABLE_KINDS | {"quota", "auth", "config", "not_found", "unknown"}
# Failures of the provider's health, the only ones that justify a cooldown: a request
# the model cannot serve or a missing key says nothing about the provider.
HEALTH_KINDS = RETRYABLE_KINDS | {"quota"}

_QUOTA_RE = re.compile(
    r"insufficient[_ ]quota|exceeded your current quota|quota exceeded|out of quota|"
    r"\bquota\b|billing|credit balance|insufficient (?:credits|balance|funds)|"
    r"payment required",
    re.IGNORECASE,
)
# Per-minute/day "quota" messages (Google, Azure) are plain rate limits: retrying works.
_WINDOWED_RE = re.compile(
    r"per[ _-]?(?:minute|min|second|sec)\b|requests_per_minute|tokens_per_minute|\brpm\b|"
    r"\btpm\b|retry (?:after|in)",
    re.IGNORECASE,
)
# The provider SDK refusing to send a request without a key (LiteLLM reports it as a 500).
_MISSING_KEY_RE = re.compile(
    r"missing credentials|api_key client option must be set|missing [\w ]*api[ _]?key|"
    r"no api[ _]?key (?:provided|found|was provided)|didn't provide an api key",
    re.IGNORECASE,
)
_CONNECTION_RE = re.compile(
    r"connection error|connection refused|cannot connect|connect call failed|"
    r"server disconnected|connection reset|name or service not known",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Classified:
    kind: str
    message: str
    status_code: int | None = None
    retry_after_s: float | None = None
    context_window: bool = False


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen and len(seen) < 16:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _status(exc: BaseException) -> int | None:
    for attr in ("status_code", "status"):
        value = getattr(exc, attr, None)
        if isinstance(value, int) and 100 <= value <= 599:
            return value
    return None


def _error_text(exc: BaseException) -> str:
    """Message plus any structured error body (``code``/``type`` carry insufficient_quota)."""
    parts = [str(exc)]
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict):
            parts.extend(str(inner.get(k) or "") for k in ("code", "type", "message"))
    for attr in ("code", "type"):
        value = getattr(exc, attr, None)
        if isinstance(value, str):
            parts.append(value)
    return " ".join(p for p in parts if p)


def _retry_after(exc: BaseException) -> float | None:
    headers: Any = getattr(exc, "litellm_response_headers", None)
    if headers is None:
        response = getattr(exc, "response", None)
        headers = getattr(response, "headers", None)
    if headers is None:
        return None
    try:
        raw = headers.get("retry-after-ms")
        if raw is not None:
            return max(0.0, float(raw) / 1000.0)
        raw = headers.get("retry-after")
    except Exception:  # noqa: BLE001 - headers of an unknown shape
        return None
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(raw) if raw else None
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None


def _short(message: str) -> str:
    # LiteLLM prefixes "litellm.RateLimitError: RateLimitError: OpenAIException - ".
    message = re.sub(r"^litellm\.\w+:\s*(?:\w+:\s*)?", "", message.strip())
    return message[:2000]


def _is_quota(text: str) -> bool:
    return bool(_QUOTA_RE.search(text)) and not _WINDOWED_RE.search(text)


def classify(exc: BaseException) -> Classified:
    """The error kind of ``exc`` and whatever else the retry loop needs from it."""
    lm = litellm()
    status = _status(exc)
    text = _error_text(exc)
    message = _short(str(exc) or type(exc).__name__)
    retry_after = _retry_after(exc)

    def result(kind: str, *, context_window: bool = False) -> Classified:
        return Classified(kind, message, status, retry_after, context_window)

    if isinstance(exc, MissingCredentials):
        return Classified("config", str(exc))
    if status in (None, 400, 401, 500) and _MISSING_KEY_RE.search(text):
        return result("config")

    # Out of credit: a 429/400/402/403 that talks about quota or billing.
    if (status in (400, 402, 403, 429) or isinstance(exc, lm.RateLimitError)) and _is_quota(
        text
    ):
        return result("quota")
    # Timeouts before connection errors: litellm.Timeout subclasses APIConnectionError.
    if isinstance(exc, lm.Timeout | asyncio.TimeoutError | TimeoutError) or status == 408:
        return result("timeout")
    if isinstance(exc, lm.ContextWindowExceededError):
        return result("bad_request", context_window=True)
    if isinstance(exc, lm.RateLimitError) or status == 429:
        return result("rate_limit")
    if isinstance(exc, lm.AuthenticationError | lm.PermissionDeniedError) or status in (
        401,
        403,
    ):
        return result("auth")
    if isinstance(exc, lm.NotFoundError) or status == 404:
        return result("not_found")
    if status == 402:
        return result("quota")
    if isinstance(
        exc, lm.BadRequestError | lm.UnprocessableEntityError | lm.UnsupportedParamsError
    ) or status in (400, 409, 413, 422):
        return result("bad_request")
    # A refused/reset connection surfaces from LiteLLM as an InternalServerError(500)
    # whose cause is openai.APIConnectionError: look down the chain before "server".
    for link in _chain(exc)[1:]:
        if isinstance(link, asyncio.TimeoutError | TimeoutError):
            return result("timeout")
        if type(link).__name__ in ("APITimeoutError", "ReadTimeout", "ConnectTimeout",
                                   "PoolTimeout", "ServerTimeoutError"):
            return result("timeout")
        if type(link).__name__ == "APIConnectionError" or isinstance(link, ConnectionError):
            return result("connection")
    if isinstance(exc, lm.APIConnectionError | ConnectionError) or (
        status is None and _CONNECTION_RE.search(text)
    ):
        return result("connection")
    if isinstance(
        exc, lm.InternalServerError | lm.ServiceUnavailableError | lm.BadGatewayError
    ) or (status is not None and status >= 500):
        return result("server")
    return result("unknown")
