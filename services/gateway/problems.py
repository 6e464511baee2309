"""The gateway's errors: problem documents that also carry OpenAI's ``error`` object."""

from __future__ import annotations

from typing import Any

from harness.web.problems import ProblemError

from . import openai_errors
from .routing import UpstreamError

# Errors that are not the provider's: named for what they are, not "upstream-..."
_SLUGS = {"config": "missing-credentials", "unsupported": "unsupported-operation"}


def problem(status: int, slug: str, detail: str, headers: dict | None = None,
            param: str | None = None, **extra: Any) -> ProblemError:
    """A problem document that also carries OpenAI's ``error`` object for SDK clients."""
    return ProblemError(status, slug, detail, headers=headers,
                        error=openai_errors.error_object(status, slug, detail, param), **extra)


def upstream_problem(exc: UpstreamError) -> ProblemError:
    headers = None
    if exc.retry_after_s is not None:
        headers = {"Retry-After": str(max(1, int(exc.retry_after_s + 0.999)))}
    slug = _SLUGS.get(exc.kind, f"upstream-{exc.kind}")
    return problem(exc.http_status, slug, exc.message, headers=headers,
                   attempts=exc.history)


def pii_blocked_problem(exc: Exception) -> ProblemError | None:
    """The 422 for a request the PII policy blocks (``harness.pii`` loads lazily, so its
    exception is recognised by name); ``None`` for any other exception."""
    if type(exc).__name__ != "PIIBlocked":
        return None
    return problem(422, "pii-blocked", exc.detail, kinds=exc.kinds, counts=exc.counts)
