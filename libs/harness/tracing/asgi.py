"""ASGI middleware: a SERVER span around each request to the given paths, continuing the
caller's W3C ``traceparent``; the LLM call spans of the request become its children.

With export off it still makes the caller's trace current (a non-recording span), so the
request's log lines carry the caller's trace id (:mod:`harness.logging`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from .spans import WorkflowSpans, incoming_context

_PROPAGATION_HEADERS = (b"traceparent", b"tracestate")


def _carrier(scope: dict) -> dict[str, str]:
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers") or ()
            if k in _PROPAGATION_HEADERS}


class RequestSpans:
    """``app.add_middleware(RequestSpans, spans=lambda app: ..., paths=[...])``: ``spans``
    gives the :class:`WorkflowSpans` of the app (read per request: the app builds its
    exporter when it starts)."""

    def __init__(self, app: Any, *, spans: Callable[[Any], WorkflowSpans],
                 paths: Iterable[str]) -> None:
        self.app = app
        self.spans = spans
        self.paths = frozenset(paths)

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] not in self.paths:
            await self.app(scope, receive, send)
            return
        carrier = _carrier(scope)
        spans = self.spans(scope.get("app"))
        if not spans.enabled:
            await self._within_callers_trace(carrier, scope, receive, send)
            return
        with spans.request(scope["method"], scope["path"], carrier) as span:
            async def send_and_note(message: dict) -> None:
                if message["type"] == "http.response.start":
                    status = int(message["status"])
                    span.set({"http.response.status_code": status})
                    if status >= 500:
                        span.error(f"HTTP {status}")
                await send(message)

            await self.app(scope, receive, send_and_note)

    async def _within_callers_trace(self, carrier: dict[str, str], scope: dict,
                                    receive: Any, send: Any) -> None:
        ctx = incoming_context(carrier) if carrier else None
        if ctx is None:
            await self.app(scope, receive, send)
            return
        from opentelemetry import context

        token = context.attach(ctx)
        try:
            await self.app(scope, receive, send)
        finally:
            context.detach(token)
