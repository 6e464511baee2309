"""The SDK's logger: silent unless the application asks for logs.

A library must not print into its host application's output. structlog, left
unconfigured, prints every event to stdout; so the client logs through structlog only
once structlog is configured (harness's own services and CLI do that), and otherwise
through the standard library's ``logging`` under ``harness.client``, which shows nothing
until the application configures logging (``logging.basicConfig(...)``).
"""

from __future__ import annotations

import logging
from typing import Any

import structlog

NAME = "harness.client"
logging.getLogger(NAME).addHandler(logging.NullHandler())  # no "last resort" stderr output


class ClientLogger:
    """``debug``/``info``/``warning``/``exception`` with structlog's ``event, **fields``."""

    def __init__(self, name: str = NAME) -> None:
        self._name = name
        self._std = logging.getLogger(name)

    def _emit(self, level: int, method: str, event: str, fields: dict[str, Any],
              exc_info: bool = False) -> None:
        if structlog.is_configured():
            getattr(structlog.get_logger(self._name), method)(event, **fields)
            return
        if self._std.isEnabledFor(level):
            extra = " ".join(f"{k}={v!r}" for k, v in fields.items())
            self._std.log(level, "%s %s", event, extra, exc_info=exc_info)

    def debug(self, event: str, **fields: Any) -> None:
        self._emit(logging.DEBUG, "debug", event, fields)

    def info(self, event: str, **fields: Any) -> None:
        self._emit(logging.INFO, "info", event, fields)

    def warning(self, event: str, **fields: Any) -> None:
        self._emit(logging.WARNING, "warning", event, fields)

    def exception(self, event: str, **fields: Any) -> None:
        self._emit(logging.ERROR, "exception", event, fields, exc_info=True)


log = ClientLogger()
