"""Domain errors: a command refused by the rules, with what the refusal is about in
``extra`` (``field``, ...). They know nothing of HTTP: the registry's web edge
(``services/registry/problem_types.py``) answers each with a status and a stable type."""

from __future__ import annotations


class DomainError(Exception):
    def __init__(self, detail: str, **extra) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class NotFound(DomainError):
    """The command names something that does not exist."""


class AlreadyExists(DomainError):
    """The command would create something that exists (an id, a name taken)."""


class Invalid(DomainError):
    """A value of the command breaks a rule; ``field`` names it."""
