"""Traces of LLM calls (gateway requests and runner calls): one record type, a batched
Postgres writer (``gateway_traces``, partitioned by day), an observer for ``LLMClient``
and an optional OpenTelemetry (OTLP/HTTP) exporter (:mod:`.otlp`) whose spans follow
:mod:`.semconv` and nest under the run, case and request spans of :mod:`.spans`
(:mod:`.asgi` for HTTP requests); :mod:`.context` carries a unit of work's trace across
the bus, so a run (with its scoring) or a generation is one trace."""

from .llm_calls import LLMCallTracer, trace_of_call
from .record import COLUMNS, SOURCES, Trace
from .writer import (
    HttpTraceStore,
    PostgresTraceStore,
    TraceExporter,
    TraceStore,
    TraceWriter,
    drop_expired,
    ensure_partition,
    partition_name,
    trace_writer_from_settings,
)

__all__ = ["COLUMNS", "SOURCES", "HttpTraceStore", "LLMCallTracer", "PostgresTraceStore",
           "Trace", "TraceExporter", "TraceStore", "TraceWriter",
           "drop_expired", "ensure_partition", "partition_name", "trace_of_call",
           "trace_writer_from_settings"]
