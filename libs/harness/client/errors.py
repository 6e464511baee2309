"""Exceptions of the downstream client. Catch ``HarnessClientError`` for all of them."""

from __future__ import annotations


class HarnessClientError(Exception):
    """Base class; ``status`` and ``problem`` carry the registry's answer when there was one."""

    def __init__(self, message: str, *, status: int | None = None,
                 problem: dict | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.problem = problem or {}


class NotFound(HarnessClientError, LookupError):
    """The registry answered: no such application, prompt or version."""


class Unavailable(HarnessClientError, ConnectionError):
    """The registry could not be reached (or failed) and nothing was cached or supplied."""


class Unauthorized(HarnessClientError, PermissionError):
    """The registry refused the API key (401) or its role (403). Never masked by the cache."""
