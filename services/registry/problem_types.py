"""The one place where the registry's domain errors meet HTTP: each error class answers
with a status and a stable problem ``type`` (``urn:harness:problem:<type>``), its detail
and its ``extra`` members. The domain raises plain exceptions and knows no status code."""

from __future__ import annotations

from fastapi import FastAPI, Request

from harness.web import problems

from .domain.composition import (
    ComposedTooLarge,
    ReferenceCycle,
    ReferenceTooDeep,
    ReferenceUnresolved,
)
from .domain.errors import AlreadyExists, DomainError, Invalid, NotFound
from .domain.generations import DocumentRejected, GenerationFinished, UnsupportedDocument
from .domain.governance import GateFailed, PolicyViolation, PromotionClosed, SelfApproval
from .domain.queues import NotAReviewer
from .domain.runs import RunFinished
from .handlers.credentials import MissingCredentials
from .handlers.generations import MissingExtra

PROBLEM_TYPES: dict[type[DomainError], tuple[int, str]] = {
    DomainError: (400, "domain-error"),
    NotFound: (404, "not-found"),
    AlreadyExists: (409, "already-exists"),
    Invalid: (422, "invalid"),
    PolicyViolation: (409, "policy-violation"),
    GateFailed: (409, "gate-failed"),
    SelfApproval: (403, "self-approval"),
    PromotionClosed: (409, "promotion-closed"),
    GenerationFinished: (409, "generation-finished"),
    RunFinished: (409, "run-finished"),
    MissingCredentials: (422, "missing-credentials"),
    UnsupportedDocument: (415, "unsupported-file"),
    DocumentRejected: (422, "document-rejected"),
    MissingExtra: (501, "missing-extra"),
    NotAReviewer: (403, "not-a-reviewer"),
    ReferenceCycle: (422, "reference-cycle"),
    ReferenceTooDeep: (422, "reference-too-deep"),
    ReferenceUnresolved: (409, "reference-unresolved"),
    ComposedTooLarge: (413, "content-too-large"),
}


def problem_type(error: DomainError) -> tuple[int, str]:
    """Status and type of ``error``: those of its class, else of its nearest base."""
    for cls in type(error).__mro__:
        if cls in PROBLEM_TYPES:
            return PROBLEM_TYPES[cls]
    raise TypeError(f"{type(error).__name__} is not a domain error")


def install(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(_req: Request, exc: DomainError):
        status, slug = problem_type(exc)
        return problems.problem(status, slug, exc.detail, **exc.extra)
