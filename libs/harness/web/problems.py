"""RFC 9457 problem+json for every error, with stable ``type`` URNs.

Shared by every service's app. A service maps its own domain errors to problem documents
with an exception handler of its own (the registry's is ``services/registry/problem_types.py``)."""

from __future__ import annotations

from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from harness.eventstore import ConcurrencyError, StreamBusy
from harness.templating import MissingVariablesError, RenderBudgetExceeded, TemplateRenderError
from harness.web.bodies import UNKNOWN_FIELD

PROBLEM_JSON = "application/problem+json"
_TITLES = {400: "Bad request", 401: "Unauthorized", 403: "Forbidden", 404: "Not found",
           405: "Method not allowed", 409: "Conflict", 412: "Precondition failed",
           413: "Content too large", 415: "Unsupported media type",
           422: "Unprocessable content", 429: "Too many requests", 500: "Internal error",
           502: "Bad gateway", 503: "Service unavailable"}


def problem_body(status: int, slug: str, detail: str, **extra: Any) -> dict[str, Any]:
    return {"type": f"urn:harness:problem:{slug}", "title": _TITLES.get(status, "Error"),
            "status": status, "detail": detail, **extra}


def problem(status: int, slug: str, detail: str, **extra: Any) -> JSONResponse:
    return JSONResponse(problem_body(status, slug, detail, **extra), status_code=status,
                        media_type=PROBLEM_JSON)


def _sends_json(request: Request) -> bool:
    content_type = request.headers.get("content-type")
    if not content_type:
        return True
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def _wrong_media_type(request: Request, errors: list[dict]) -> bool:
    """A JSON route got a body of another media type: FastAPI hands the route the raw
    bytes, which fail validation as "not an object"; that is a 415, not a 422."""
    if _sends_json(request):
        return False
    return any(len(e["loc"]) <= 1 and e["loc"][:1] == ("body",) and e["type"] != "missing"
               for e in errors)


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

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        """A bug: the client gets a problem document with the correlation id to report;
        the traceback goes to the log (Starlette re-raises after this answer)."""
        cid = getattr(request.state, "correlation_id", None)
        return problem(500, "internal-error", "an unexpected error occurred; the server log "
                       "has the details", correlation_id=cid)

    @app.exception_handler(asyncpg.CharacterNotInRepertoireError)
    @app.exception_handler(asyncpg.UntranslatableCharacterError)
    async def _unstorable_text(_req: Request, exc: asyncpg.PostgresError):
        """The input guard names the field for JSON, queries and paths; a form field with
        a NUL character reaches PostgreSQL, which refuses it: still the client's input."""
        return problem(422, "validation-error", "the input contains a NUL character "
                       "(\\u0000), which cannot be stored")

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

    @app.exception_handler(TemplateRenderError)
    async def _render_failed(_req: Request, exc: TemplateRenderError):
        return problem(422, "template-error", str(exc), field=exc.where, message=exc.message)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        if _wrong_media_type(request, list(exc.errors())):
            return problem(415, "unsupported-media-type",
                           "send the body as application/json "
                           f"(got {request.headers.get('content-type')})")
        misplaced = _misplaced_fields(request)
        errors = []
        for e in exc.errors():
            field = ".".join(str(p) for p in e["loc"] if p not in ("body",)) or "body"
            message = e["msg"]
            if e["type"] == "extra_forbidden":
                message = UNKNOWN_FIELD
                if e["loc"][:1] == ("body",) and field in misplaced:
                    message += f"; it belongs in {misplaced[field]}"
            errors.append({"field": field, "location": e["loc"][0] if e["loc"] else "body",
                           "message": message})
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        return problem(422, "validation-error", detail, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        slug = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
        resp = problem(exc.status_code, slug, str(exc.detail))
        for k, v in (exc.headers or {}).items():
            resp.headers[k] = v
        if exc.status_code == 405:
            resp.headers["Allow"] = ", ".join(_allowed_methods(request))
        return resp


def _misplaced_fields(request: Request) -> dict[str, str]:
    """The request body model's ``misplaced_fields`` (``RequestBody``), when the route has
    one."""
    body_field = getattr(request.scope.get("route"), "body_field", None)
    model = getattr(getattr(body_field, "field_info", None), "annotation", None)
    hints = getattr(model, "misplaced_fields", None)
    return hints if isinstance(hints, dict) else {}


def _allowed_methods(request: Request) -> list[str]:
    """Every method of every route with this path: Starlette's ``Allow`` names only the
    first route that matched the path (``GET /x/{id}`` hides ``PATCH /x/{id}``)."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches({**request.scope, "method": "\x00"})
        if match != Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    return sorted(methods)
