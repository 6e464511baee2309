"""Spans around the work, so that LLM calls nest: run → case → LLM call (runner, scorer),
request → LLM call (gateway, continuing the caller's W3C ``traceparent``).

A trace queued while one of these spans is current takes it as its parent
(:func:`current_parent`), so the exporter makes the call's span its child. Services reach
the spans through :func:`spans_of` (the spans of the exporter their LLM client's traces go
to) and use them as context managers; with export off they are :data:`NO_SPANS`, whose
spans cost nothing and record nothing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

from .semconv import ContentMode, io_attributes, workflow_attributes


class SpanHandle:
    """What the code inside a span may add: its output, facts, an error."""

    def __init__(self, span: Any = None, content: ContentMode = "masked") -> None:
        self._span = span
        self._content = content

    def output(self, value: Any) -> None:
        """The span's output (a text, or a value sent as JSON)."""
        if self._span is not None:
            self._span.set_attributes(io_attributes(None, value, mode=self._content))

    def facts(self, **facts: Any) -> None:
        """``harness.<name>`` attributes (None values left out)."""
        if self._span is not None:
            a = workflow_attributes("", **facts)
            self._span.set_attributes({k: v for k, v in a.items() if k.startswith("harness.")})

    def set(self, attributes: Mapping[str, Any]) -> None:
        """Attributes as named (e.g. ``http.response.status_code``)."""
        if self._span is not None:
            self._span.set_attributes(dict(attributes))

    def error(self, message: str) -> None:
        if self._span is not None:
            from opentelemetry.trace import Status, StatusCode

            self._span.set_status(Status(StatusCode.ERROR, message[:500]))
            self._span.set_attribute("langfuse.observation.level", "ERROR")


_NO_HANDLE = SpanHandle()


class WorkflowSpans:
    """Makes the spans around LLM calls in ``tracer`` (None: makes none)."""

    def __init__(self, tracer: Any = None, content: ContentMode = "masked") -> None:
        self.tracer = tracer
        self.content = content

    @property
    def enabled(self) -> bool:
        return self.tracer is not None

    @contextlib.contextmanager
    def span(self, name: str, attributes: Mapping[str, Any], *, input: Any = None,
             kind: str = "internal", parent: Any = None) -> Iterator[SpanHandle]:
        """A span current for the ``with`` block (an exception ends it as an error)."""
        if self.tracer is None:
            yield _NO_HANDLE
            return
        from opentelemetry.trace import SpanKind

        attrs = {**attributes, **io_attributes(input, None, mode=self.content)}
        with self.tracer.start_as_current_span(
                name, context=parent, kind=getattr(SpanKind, kind.upper()),
                attributes=attrs) as span:
            yield SpanHandle(span, self.content)

    def run(self, run_id: str, *, name: str = "evaluation run", input: Any = None,
            **facts: Any) -> contextlib.AbstractContextManager[SpanHandle]:
        """A run's root span (Langfuse: the trace; its session is the run)."""
        return self.span(name, workflow_attributes(
            "CHAIN", session_id=run_id, trace_name=name, run_id=run_id, **facts),
            input=input)

    def case(self, run_id: str, case_id: str, *, name: str = "evaluation case",
             kind: str = "CHAIN", input: Any = None, **facts: Any
             ) -> contextlib.AbstractContextManager[SpanHandle]:
        """One case of a run (``kind``: EVALUATOR for the scorer's)."""
        observation = "evaluator" if kind == "EVALUATOR" else "chain"
        return self.span(name, workflow_attributes(
            kind, observation=observation, session_id=run_id, run_id=run_id,
            case_id=case_id, **facts), input=input)


    def request(self, method: str, route: str, carrier: Mapping[str, str]
                ) -> contextlib.AbstractContextManager[SpanHandle]:
        """A SERVER span for an HTTP request, a child of the caller's span when
        ``carrier`` (its headers) has a W3C ``traceparent``."""
        return self.span(f"{method} {route}", {
            "openinference.span.kind": "CHAIN", "langfuse.observation.type": "span",
            "http.request.method": method, "http.route": route, "url.path": route},
            kind="server", parent=incoming_context(carrier))


NO_SPANS = WorkflowSpans()


def incoming_context(carrier: Mapping[str, str]) -> Any:
    """The OpenTelemetry context of a caller's W3C ``traceparent`` (and ``tracestate``)
    header, or None when it sent none (or an invalid one)."""
    if "traceparent" not in carrier:
        return None
    from opentelemetry import trace
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    ctx = TraceContextTextMapPropagator().extract(carrier)
    return ctx if trace.get_current_span(ctx).get_span_context().is_valid else None


def spans_of(llm: Any) -> WorkflowSpans:
    """The spans of the exporter ``llm``'s (an ``LLMClient``'s) call traces go to, so that
    its calls nest under them; :data:`NO_SPANS` when none exports."""
    for observer in getattr(llm, "observers", None) or []:
        writer = getattr(observer, "writer", None)
        exporters = getattr(writer, "exporters", None) or getattr(observer, "exporters", None)
        for exporter in exporters or []:
            spans = getattr(exporter, "spans", None)
            if isinstance(spans, WorkflowSpans):
                return spans
    return NO_SPANS


def current_parent() -> Any:
    """The current span's context (an opentelemetry ``SpanContext``), or None."""
    from opentelemetry import trace

    ctx = trace.get_current_span().get_span_context()
    return ctx if ctx.is_valid else None


def current_ids() -> tuple[str, str] | None:
    """``(trace_id, span_id)`` of the current span in hex, or None (for log lines)."""
    ctx = current_parent()
    if ctx is None:
        return None
    return format(ctx.trace_id, "032x"), format(ctx.span_id, "016x")
