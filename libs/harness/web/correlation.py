"""The correlation id of a request: it follows the request into logs and event metadata."""

from __future__ import annotations

import uuid

from harness.logging import bind_correlation


class CorrelationMiddleware:
    """Pure ASGI: takes ``X-Correlation-ID`` (or makes one), binds it to the logs and the
    request state (it goes into event metadata) and echoes it on the response."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        cid = None
        for name, value in scope["headers"]:
            if name == b"x-correlation-id":
                cid = value.decode("latin-1")
                break
        cid = cid or str(uuid.uuid4())
        scope.setdefault("state", {})["correlation_id"] = cid
        bind_correlation(cid)
        header = (b"x-correlation-id", cid.encode("latin-1"))

        async def send_with_id(message):
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        await self.app(scope, receive, send_with_id)
