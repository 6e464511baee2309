"""structlog set-up: a correlation id carried in context variables; JSON lines for
machines, readable lines for people.

The format follows where the logs go: a terminal gets structlog's console renderer, a
file, a pipe or a log collector (Cloud Run, the e2e tests' log files) gets JSON lines.
``HARNESS_LOG_FORMAT=json|console`` (or the older ``HARNESS_LOG_JSON=true|false``)
overrides that.
"""

from __future__ import annotations

import logging
import sys

import structlog


def wants_json(log_format: str | None = None, log_json: bool | None = None,
               stream=None) -> bool:
    """JSON unless the logs go to a terminal, or as asked: ``log_format`` (``json``,
    ``console``, ``auto``) first, then the boolean ``log_json``."""
    fmt = (log_format or "auto").strip().lower()
    if fmt == "json":
        return True
    if fmt == "console":
        return False
    if log_json is not None:
        return log_json
    stream = stream if stream is not None else sys.stderr
    try:
        return not stream.isatty()
    except (AttributeError, ValueError):
        return True


def configure_logging(level: str = "INFO", json_logs: bool | None = None) -> None:
    """``json_logs=None``: decided by :func:`wants_json` from the environment's settings."""
    from harness.config import get_settings

    if json_logs is None:
        s = get_settings()
        json_logs = wants_json(s.log_format, s.log_json)
    processors: list = [
        structlog.contextvars.merge_contextvars,
        TraceContext(get_settings().gcp_project),
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,
    ]
    renderer = (structlog.processors.JSONRenderer() if json_logs
                else structlog.dev.ConsoleRenderer(colors=_colors()))
    structlog.configure(
        processors=[*processors, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
        ),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )


class TraceContext:
    """structlog processor: ``trace_id`` and ``span_id`` (hex, as OpenTelemetry and the
    W3C ``traceparent`` write them) of the span current when the line is logged, and with
    a GCP project Cloud Logging's ``logging.googleapis.com/trace`` and ``.../spanId``, so
    a line joins its trace."""

    def __init__(self, gcp_project: str | None = None) -> None:
        self.gcp_project = gcp_project
        try:
            from opentelemetry.trace import get_current_span
        except ImportError:  # OpenTelemetry is not installed: no span is ever current
            get_current_span = None
        self._current_span = get_current_span

    def __call__(self, logger, method_name: str, event_dict: dict) -> dict:
        if self._current_span is None:
            return event_dict
        ctx = self._current_span().get_span_context()
        if not ctx.is_valid:
            return event_dict
        trace_id, span_id = format(ctx.trace_id, "032x"), format(ctx.span_id, "016x")
        event_dict.setdefault("trace_id", trace_id)
        event_dict.setdefault("span_id", span_id)
        if self.gcp_project:
            event_dict["logging.googleapis.com/trace"] = \
                f"projects/{self.gcp_project}/traces/{trace_id}"
            event_dict["logging.googleapis.com/spanId"] = span_id
        return event_dict


def bind_correlation(correlation_id: str | None) -> None:
    structlog.contextvars.bind_contextvars(correlation_id=correlation_id)


def _colors() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False
