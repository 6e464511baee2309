"""The OpenAPI document names every error an operation can answer, as problem+json.

FastAPI documents only its own 422 (as ``application/json`` with its validation shape),
so clients and contract tests (schemathesis) could not know that every error is an
RFC 9457 problem document, nor which statuses to expect. This fills each operation's
``responses`` with the statuses the registry's cross-cutting layers can produce (auth,
lookups, conflicts, body limits, media type, validation, an unexpected failure), plus the
gateway's own (rate limits, budgets, upstream errors) on its routes.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Response
from fastapi.openapi.utils import get_openapi

from harness.web.problems import _TITLES, PROBLEM_JSON

COMMON = (400, 401, 403, 404, 409, 413, 415, 422, 500, 503)  # 503: stream busy, starting
GATEWAY = (429, 502, 503, 504)
_EXTRA_BY_PREFIX = {"/v1/": GATEWAY, "/gateway/": (503,), "/metrics": (503,),
                    "/datasets/{dataset_id}/generate": (501,), "/readyz": (503,)}

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details; ``type`` is stable, ``detail`` says what and "
                   "where. More members may follow (``errors``, ``field``, ...); gateway "
                   "routes also carry OpenAI's ``error`` object.",
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "examples": ["urn:harness:problem:validation-error"]},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {"type": "array", "items": {
            "type": "object",
            "properties": {"field": {"type": "string"}, "location": {"type": "string"},
                           "message": {"type": "string"}}}},
    },
    "additionalProperties": True,
}


def media_types(*types: str, description: str = "the document") -> dict[str, Any]:
    """Route decorator arguments of an operation whose success is not JSON (exports, event
    streams, Prometheus text): the OpenAPI document names its real media types."""
    return {"response_class": Response, "responses": {200: {
        "description": description,
        "content": {t: {"schema": {}} for t in types}}}}


def _statuses(path: str) -> tuple[int, ...]:
    extra: tuple[int, ...] = ()
    for prefix, codes in _EXTRA_BY_PREFIX.items():
        if path.startswith(prefix):
            extra += codes
    return tuple(sorted({*COMMON, *extra}))


def add_problem_responses(schema: dict[str, Any]) -> dict[str, Any]:
    """Mutates and returns an OpenAPI document."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Problem"] = PROBLEM_SCHEMA
    ref = {"$ref": "#/components/schemas/Problem"}
    for path, operations in schema.get("paths", {}).items():
        for operation in operations.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            # /v1 answers errors as OpenAI does (application/json, with an ``error`` object
            # beside the problem fields): services/gateway/openai_errors.py
            media = "application/json" if path.startswith("/v1/") else PROBLEM_JSON
            for status in _statuses(path):
                key = str(status)
                entry = responses.get(key)
                if entry is None or status == 422:  # replaces FastAPI's application/json 422
                    responses[key] = {"description": _TITLES.get(status, "Error"),
                                      "content": {media: {"schema": ref}}}
                else:
                    entry.setdefault("content", {})[media] = {"schema": ref}
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    return schema


def install(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = add_problem_responses(get_openapi(
                title=app.title, version=app.version, openapi_version=app.openapi_version,
                summary=app.summary, description=app.description, routes=app.routes,
                tags=app.openapi_tags, servers=app.servers))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
