"""Domain errors; the API maps each to a problem+json status and stable type."""

from __future__ import annotations


class DomainError(Exception):
    status = 400
    type = "domain-error"

    def __init__(self, detail: str, **extra) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class NotFound(DomainError):
    status = 404
    type = "not-found"


class AlreadyExists(DomainError):
    status = 409
    type = "already-exists"


class Invalid(DomainError):
    status = 422
    type = "invalid"
