"""OpenAI's error envelope on every ``/v1`` error.

OpenAI SDKs read ``{"error": {"message", "type", "param", "code"}}`` from an error body
and show nothing else: a problem document without it reaches the user as a bare
"Error code: 422". Most gateway errors are raised with that envelope already, but errors
raised elsewhere (template rendering, request validation, unknown routes, wrong methods,
body limits, unexpected exceptions) are answered by the app's problem+json handlers.
:class:`OpenAIErrorEnvelope` sits outside every handler and gives each error answered
under ``/v1`` the envelope (keeping the problem fields beside it) as ``application/json``;
the registry's own API keeps plain problem+json.
"""

from __future__ import annotations

from typing import Any

import orjson
import structlog

log = structlog.get_logger(__name__)

PREFIX = "/v1"
_PROBLEM_URN = "urn:harness:problem:"


def openai_type(status: int, code: str | None = None) -> str:
    """The OpenAI ``type`` of an error answered with ``status``."""
    if code == "missing-credentials":
        return "configuration_error"
    if status == 401:
        return "authentication_error"
    if status == 403:
        return "permission_error"
    if status == 404:
        return "not_found_error"
    if status == 429:
        return "insufficient_quota" if code == "budget-exceeded" else "rate_limit_error"
    if status >= 500:
        return "server_error"
    return "invalid_request_error"


def error_object(status: int, code: str, message: str,
                 param: str | None = None) -> dict[str, Any]:
    return {"message": message, "type": openai_type(status, code), "param": param,
            "code": code}


def _param_of(body: dict[str, Any]) -> str | None:
    """The failing field of a problem document, as OpenAI's ``param``."""
    if isinstance(body.get("field"), str):
        return body["field"]
    if body.get("missing") and isinstance(body["missing"], list):
        return "variables"
    errors = body.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        field = errors[0].get("field")
        return field if isinstance(field, str) else None
    return None


def with_envelope(status: int, raw: bytes) -> dict[str, Any]:
    """``raw`` (a problem document, any JSON or text) with an OpenAI ``error`` object."""
    try:
        body = orjson.loads(raw) if raw else {}
    except orjson.JSONDecodeError:
        body = {"detail": raw.decode("utf-8", "replace").strip()}
    if not isinstance(body, dict):
        body = {"detail": body}
    err = body.get("error")
    if isinstance(err, dict) and isinstance(err.get("message"), str):
        code = err.get("code") if isinstance(err.get("code"), str) else None
        err.setdefault("type", openai_type(status, code))
        err.setdefault("param", _param_of(body))
        err.setdefault("code", code)
        return body
    slug = body.get("type")
    code = slug[len(_PROBLEM_URN):] if isinstance(slug, str) and slug.startswith(
        _PROBLEM_URN) else (slug if isinstance(slug, str) else f"http-{status}")
    message = body.get("detail") or body.get("title") or body.get("message") \
        or f"HTTP {status}"
    body["error"] = error_object(status, code, str(message), _param_of(body))
    return body


class OpenAIErrorEnvelope:
    """Pure ASGI middleware: every error response under ``/v1`` carries the envelope,
    an unexpected exception included (a 500 whose details stay in the log)."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not (path == PREFIX or path.startswith(PREFIX + "/")):
            return await self.app(scope, receive, send)
        start: dict[str, Any] | None = None
        chunks: list[bytes] = []
        started = False

        async def capture(message):
            nonlocal start, started
            if message["type"] == "http.response.start":
                if message["status"] < 400:
                    started = True
                    return await send(message)
                start = message
                return None
            if start is None:
                return await send(message)
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                await self._send_envelope(send, start, b"".join(chunks))
            return None

        try:
            await self.app(scope, receive, capture)
        except Exception:
            if started or (start is not None and chunks):
                raise
            log.exception("gateway.unhandled_error", path=path)
            await self._send_envelope(send, {"status": 500, "headers": []}, orjson.dumps(
                {"type": _PROBLEM_URN + "internal-error", "title": "Internal error",
                 "status": 500, "detail": "internal error: the gateway logged the details"}))

    @staticmethod
    async def _send_envelope(send, start: dict[str, Any], raw: bytes) -> None:
        status = start["status"]
        body = orjson.dumps(with_envelope(status, raw))
        headers = [(k, v) for k, v in start.get("headers", [])
                   if k.lower() not in (b"content-length", b"content-type")]
        headers += [(b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def install(app) -> None:
    """Put the envelope outside every other middleware and handler of ``app``."""
    app.add_middleware(OpenAIErrorEnvelope)
