"""Request body limits (413) and the input guard (422), as one pure ASGI middleware.

The size is counted on the bytes as they arrive, so a client that sends no or a false
``Content-Length`` (chunked transfer) is stopped at the limit too; nothing beyond it is
read into memory. JSON bodies (bounded by the limit) are held here, checked by
:mod:`.input_guard`, and replayed to the app; uploads (multipart) stream through with a
counter, so a large import is never held twice.

Which limit applies depends on the path: uploads (dataset imports, run imports, documents
for generation) and the gateway's ``/v1`` take ``HARNESS_MAX_UPLOAD_BYTES``; everything
else ``HARNESS_MAX_BODY_BYTES``. A prompt version's content has its own, smaller limit
(``HARNESS_MAX_PROMPT_BYTES``), checked where the content is read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import orjson

from harness.config import get_settings
from harness.web.input_guard import BadInput, check_json_body, check_path, check_query
from harness.web.problems import PROBLEM_JSON, problem_body

_DRAIN_BYTES = 16 * 1024 * 1024
"""After the limit, up to this much more is read and dropped so the client, still sending,
reads the 413 instead of a reset connection; a longer body gets the 413 and a close."""

_UPLOAD_PATHS = re.compile(r"^/(datasets/[^/]+/(import|generate)|runs/import|v1/.*)$")
_BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


@dataclass(frozen=True)
class BodyLimits:
    body: int
    upload: int

    @classmethod
    def from_settings(cls) -> BodyLimits:
        s = get_settings()
        return cls(body=s.max_body_bytes, upload=s.max_upload_bytes)

    def for_path(self, path: str) -> int:
        return self.upload if _UPLOAD_PATHS.match(path) else self.body


class _TooLarge(Exception):
    pass


def _is_json(content_type: str | None) -> bool:
    """FastAPI reads a body without a content type as JSON, and so do we."""
    if not content_type:
        return True
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def _is_gateway(path: str) -> bool:
    return path.startswith("/v1/")


def _response(status: int, slug: str, detail: str, *, close: bool = False,
              **extra) -> tuple[dict, bytes]:
    body = problem_body(status, slug, detail, **extra)  # /v1: the gateway adds its envelope
    headers = [(b"content-type", PROBLEM_JSON.encode())]
    if close:  # the rest of the body is not read: this connection is done
        headers.append((b"connection", b"close"))
    return {"type": "http.response.start", "status": status, "headers": headers}, \
        orjson.dumps(body)


async def _drain(receive, more: bool) -> bool:
    """Read and drop what is left of the body, up to ``_DRAIN_BYTES``; True when all of it
    was read."""
    dropped = 0
    while more:
        if dropped > _DRAIN_BYTES:
            return False
        message = await receive()
        if message["type"] != "http.request":
            return False
        dropped += len(message.get("body", b""))
        more = message.get("more_body", False)
    return True


class RequestLimits:
    """Pure ASGI: refuses bodies over the limit with 413 and unstorable input with 422."""

    def __init__(self, app, limits: BodyLimits | None = None) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope["path"]
        bad = check_path(path) or check_query(scope.get("query_string", b""))
        if bad is not None:
            return await self._refuse(send, path, bad)
        if scope["method"] not in _BODY_METHODS:
            return await self.app(scope, receive, send)
        limits = self.limits or BodyLimits.from_settings()
        limit = limits.for_path(path)
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            drain = int(declared) - limit <= _DRAIN_BYTES and b"expect" not in headers
            return await self._too_large(send, path, limit, receive if drain else None)
        content_type = headers.get(b"content-type", b"").decode("latin-1") or None
        if _is_json(content_type):
            return await self._json(scope, receive, send, path, limit)
        return await self._streamed(scope, receive, send, path, limit)

    async def _json(self, scope, receive, send, path: str, limit: int):
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            more = message.get("more_body", False)
            if size > limit:
                return await self._too_large(send, path, limit, receive, more)
            chunks.append(chunk)
        body = b"".join(chunks)
        bad = check_json_body(body, nul=not _is_gateway(path))
        if bad is not None:
            return await self._refuse(send, path, bad)
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _streamed(self, scope, receive, send, path: str, limit: int):
        size = 0
        exceeded = False
        started = False

        more = True

        async def counting():
            nonlocal size, exceeded, more
            message = await receive()
            if message["type"] == "http.request":
                size += len(message.get("body", b""))
                more = message.get("more_body", False)
                if size > limit:
                    exceeded = True
                    raise _TooLarge
            return message

        async def guarded_send(message):
            nonlocal started
            if exceeded:  # the app turned our exception into its own answer: ours wins
                if message["type"] == "http.response.start" and not started:
                    started = True
                    await self._too_large(send, path, limit, receive, more)
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting, guarded_send)
        except _TooLarge:
            if not started:
                await self._too_large(send, path, limit, receive, more)

    async def _too_large(self, send, path: str, limit: int, receive=None, more: bool = True):
        drained = receive is not None and await _drain(receive, more)
        start, body = _response(413, "body-too-large",
                                f"the request body exceeds {limit} bytes", close=not drained,
                                limit_bytes=limit)
        await send(start)
        await send({"type": "http.response.body", "body": body})

    async def _refuse(self, send, path: str, bad: BadInput):
        start, body = _response(422, "validation-error", f"{bad.field}: {bad.message}",
                                errors=[bad.as_error()])
        await send(start)
        await send({"type": "http.response.body", "body": body})
