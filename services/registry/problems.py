"""RFC 9457 problem+json for every error, with stable ``type`` URNs."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from harness.eventstore import ConcurrencyError, StreamBusy
from harness.templating import MissingVariablesError, RenderBudgetExceeded

from .domain.errors import DomainError

PROBLEM_JSON = "application/problem+json"
_TITLES = {400: "Bad request", 401: "Unauthorized", 403: "Forbidden", 404: "Not found",
           405: "Method not allowed", 409: "Conflict", 412: "Precondition failed",
           422: "Unprocessable content", 429: "Too many requests", 500: "Internal error",
           503: "Service unavailable"}


def problem(status: int, slug: str, detail: str, **extra: Any) -> JSONResponse:
    body = {"type": f"urn:harness:problem:{slug}", "title": _TITLES.get(status, "Error"),
            "status": status, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


class ProblemError(Exception):
    """Raise from a route to answer with a problem document."""

    def __init__(self, status: int, slug: str, detail: str, headers: dict | None = None,
                 **extra: Any) -> None:
        super().__init__(detail)
        self.status, self.slug, self.detail, self.headers, self.extra = (
            status, slug, detail, headers, extra)


def install(app: FastAPI) -> None:
    @app.exception_handler(ProblemError)
    async def _problem(_req: Request, exc: ProblemError):
        resp = problem(exc.status, exc.slug, exc.detail, **exc.extra)
        for k, v in (exc.headers or {}).items():
            resp.headers[k] = v
        return resp

    @app.exception_handler(DomainError)
    async def _domain(_req: Request, exc: DomainError):
        return problem(exc.status, exc.type, exc.detail, **exc.extra)

    @app.exception_handler(ConcurrencyError)
    async def _conflict(_req: Request, exc: ConcurrencyError):
        return problem(409, "concurrency-conflict", str(exc), stream_id=exc.stream_id,
                       expected_version=exc.expected, actual_version=exc.actual)

    @app.exception_handler(StreamBusy)
    async def _busy(_req: Request, exc: StreamBusy):
        resp = problem(503, "stream-busy", str(exc), stream_id=exc.stream_id)
        resp.headers["Retry-After"] = str(exc.retry_after_s)
        return resp

    @app.exception_handler(MissingVariablesError)
    async def _missing(_req: Request, exc: MissingVariablesError):
        return problem(422, "missing-variables", str(exc), missing=exc.missing)

    @app.exception_handler(RenderBudgetExceeded)
    async def _render_budget(_req: Request, exc: RenderBudgetExceeded):
        return problem(422, "render-budget-exceeded", str(exc), bound=exc.bound)

    @app.exception_handler(RequestValidationError)
    async def _validation(_req: Request, exc: RequestValidationError):
        errors = [
            {"field": ".".join(str(p) for p in e["loc"] if p not in ("body",)) or "body",
             "location": e["loc"][0] if e["loc"] else "body", "message": e["msg"]}
            for e in exc.errors()
        ]
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        return problem(422, "validation-error", detail, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_req: Request, exc: StarletteHTTPException):
        slug = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
        resp = problem(exc.status_code, slug, str(exc.detail))
        for k, v in (exc.headers or {}).items():
            resp.headers[k] = v
        return resp
