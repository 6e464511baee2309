"""Spans around the work, so that LLM calls nest: run → case → LLM call (runner), the
scorer's judge calls under the case they score, request → LLM call (gateway, continuing
the caller's W3C ``traceparent``).

Work that crosses the bus joins one trace through a trace context recorded on its events
(:mod:`harness.tracing.context`): a run's span takes the ids its ``RunRequested`` carries
(:meth:`WorkflowSpans.run` with ``trace``), and a span may have a remote parent
(``parent``: a context of :func:`harness.tracing.context.remote_parent`).

A trace queued while one of these spans is current takes it as its parent
(:func:`current_parent`), so the exporter makes the call's span its child. Services reach
the spans through :func:`spans_of` (the spans of the exporter their LLM client's traces go
to) and use them as context managers; with export off they are :data:`NO_SPANS`, whose
spans cost nothing and record nothing.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator, Mapping
from typing import Any

from .context import remote_parent, valid
from .semconv import ContentMode, io_attributes, workflow_attributes

PRESET_IDS: contextvars.ContextVar[tuple[int, int] | None] = contextvars.ContextVar(
    "harness_preset_span_ids", default=None)
"""``(trace_id, span_id)`` the next span started takes (read by the exporter's id
generator, :class:`harness.tracing.otlp.PresetIdGenerator`); set only around one start."""


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

    def context(self) -> dict[str, str] | None:
        """The span's ``{"trace_id", "span_id"}`` (hex), for work done later elsewhere
        to nest under it; None when nothing is recorded."""
        if self._span is None:
            return None
        ctx = self._span.get_span_context()
        if not ctx.is_valid:
            return None
        return {"trace_id": format(ctx.trace_id, "032x"), "span_id": format(ctx.span_id, "016x")}


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
             kind: str = "internal", parent: Any = None,
             ids: tuple[str, str] | None = None) -> Iterator[SpanHandle]:
        """A span current for the ``with`` block (an exception ends it as an error).

        ``parent``: an OpenTelemetry context (None: the current span's);
        ``ids``: the ``(trace_id, span_id)`` the span must have (the trace id is used only
        for a span without a parent)."""
        if self.tracer is None:
            yield _NO_HANDLE
            return
        from opentelemetry import trace
        from opentelemetry.trace import SpanKind

        attrs = {**attributes, **io_attributes(input, None, mode=self.content)}
        token = PRESET_IDS.set((int(ids[0], 16), int(ids[1], 16))) if ids else None
        try:
            span = self.tracer.start_span(name, context=parent,
                                          kind=getattr(SpanKind, kind.upper()),
                                          attributes=attrs)
        finally:
            if token is not None:
                PRESET_IDS.reset(token)
        with trace.use_span(span, end_on_exit=True):
            yield SpanHandle(span, self.content)

    def run(self, run_id: str, *, name: str = "evaluation run", input: Any = None,
            trace: Mapping[str, str] | None = None, span_name: str | None = None,
            **facts: Any) -> contextlib.AbstractContextManager[SpanHandle]:
        """A run's span (Langfuse: the trace; its session is the run).

        ``trace``: the run's trace context (:mod:`harness.tracing.context`, from its
        ``RunRequested``): the span then has its ids, a child of the caller's span when
        the request carried one, else the root of the trace; without it, a new root.
        ``span_name``: the span's name when it is a part of the run (a shard) rather
        than the run itself, a child of the run's span."""
        return self.work(name, run_id, trace, input=input, span_name=span_name,
                         run_id=run_id, **facts)

    def generation(self, generation_id: str, *, trace: Mapping[str, str] | None = None,
                   input: Any = None, **facts: Any
                   ) -> contextlib.AbstractContextManager[SpanHandle]:
        """A generation's span (its ``GenerationRequested``'s trace context, as a run's)."""
        return self.work("generation", generation_id, trace, input=input,
                         generation_id=generation_id, **facts)

    def evaluation(self, scored_trace_id: str, evaluator: str, *, input: Any = None,
                   parent: Mapping[str, str] | None = None, **facts: Any
                   ) -> contextlib.AbstractContextManager[SpanHandle]:
        """An online evaluator scoring one stored trace (``harness.scored_trace_id``), its
        judge calls under it: a child of ``parent`` (the span the scored call happened
        in, its stored ``trace_context``: the gateway request's) in that trace, else a
        trace of its own."""
        ctx = valid(parent)
        return self.span("online evaluation", workflow_attributes(
            "EVALUATOR", observation="evaluator",
            trace_name="online evaluation" if ctx is None else None,
            scored_trace_id=scored_trace_id, evaluator=evaluator, **facts), input=input,
            parent=_root() if ctx is None else remote_parent(ctx["trace_id"],
                                                             ctx["span_id"]))

    def work(self, name: str, session_id: str, trace: Mapping[str, str] | None, *,
             input: Any = None, span_name: str | None = None, **facts: Any
             ) -> contextlib.AbstractContextManager[SpanHandle]:
        """The span of background work asked for by a request, with the ids of its trace
        context (see :meth:`run`)."""
        ctx = valid(trace)
        if ctx is None:  # a trace of its own
            name = span_name or name
            return self.span(name, workflow_attributes(
                "CHAIN", session_id=session_id, trace_name=name, **facts),
                input=input, parent=_root())
        if span_name is not None:  # a part of the work, under its span
            return self.span(span_name, workflow_attributes(
                "CHAIN", session_id=session_id, **facts), input=input,
                parent=remote_parent(ctx["trace_id"], ctx["span_id"]))
        parent = remote_parent(ctx["trace_id"], ctx["parent_span_id"]) \
            if "parent_span_id" in ctx else _root()
        return self.span(name, workflow_attributes(
            "CHAIN", session_id=session_id, trace_name=name, **facts), input=input,
            parent=parent, ids=(ctx["trace_id"], ctx["span_id"]))

    def case(self, run_id: str, case_id: str, *, name: str = "evaluation case",
             kind: str = "CHAIN", input: Any = None, parent: Mapping[str, str] | None = None,
             **facts: Any) -> contextlib.AbstractContextManager[SpanHandle]:
        """One case of a run (``kind``: EVALUATOR for the scorer's), a child of the
        current span, or of ``parent`` (a span's ``{"trace_id", "span_id"}``, e.g. the
        runner's case span a result recorded) when given."""
        observation = "evaluator" if kind == "EVALUATOR" else "chain"
        ctx = valid(parent)
        return self.span(name, workflow_attributes(
            kind, observation=observation, session_id=run_id, run_id=run_id,
            case_id=case_id, **facts), input=input,
            parent=None if ctx is None else remote_parent(ctx["trace_id"], ctx["span_id"]))

    def finished_case(self, run_id: str, case_id: str, *, trace_id: str, span_id: str,
                      parent_span_id: str, start_ns: int, end_ns: int, input: Any = None,
                      output: Any = None, facts: Mapping[str, Any] | None = None) -> None:
        """A case span made elsewhere (a pool's child process), exported now: the span
        ``span_id`` of ``trace_id``, a child of ``parent_span_id``, with its own times and
        what :meth:`case` gives an in-process case (``facts``: its ``harness.`` facts)."""
        if self.tracer is None:
            return
        from opentelemetry.trace import SpanKind

        attrs = {**workflow_attributes("CHAIN", observation="chain", session_id=run_id,
                                       run_id=run_id, case_id=case_id, **(facts or {})),
                 **io_attributes(input, output, mode=self.content)}
        token = PRESET_IDS.set((int(trace_id, 16), int(span_id, 16)))
        try:
            span = self.tracer.start_span("evaluation case",
                                          context=remote_parent(trace_id, parent_span_id),
                                          kind=SpanKind.INTERNAL, attributes=attrs,
                                          start_time=start_ns)
        finally:
            PRESET_IDS.reset(token)
        span.end(end_time=end_ns)

    def request(self, method: str, route: str, carrier: Mapping[str, str]
                ) -> contextlib.AbstractContextManager[SpanHandle]:
        """A SERVER span for an HTTP request, a child of the caller's span when
        ``carrier`` (its headers) has a W3C ``traceparent``."""
        return self.span(f"{method} {route}", {
            "openinference.span.kind": "CHAIN", "langfuse.observation.type": "span",
            "http.request.method": method, "http.route": route, "url.path": route},
            kind="server", parent=incoming_context(carrier))


NO_SPANS = WorkflowSpans()


def _root() -> Any:
    """An empty OpenTelemetry context: a span started in it begins a trace (whatever span
    happens to be current where the work was picked up)."""
    from opentelemetry.context import Context

    return Context()


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
