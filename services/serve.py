"""Run one service as its own process (``python -m services.<name>``): uvicorn on
``HARNESS_HOST``:``PORT``, JSON logs, graceful shutdown on SIGTERM (uvicorn stops
accepting, waits for in-flight requests, then the app's lifespan releases its work)."""

from __future__ import annotations

from collections.abc import Callable

import uvicorn
from fastapi import FastAPI

from harness.config import get_settings
from harness.logging import configure_logging

GRACEFUL_SECONDS = 25  # Cloud Run gives 10 s by default, up to the request timeout


def serve(factory: Callable[[], FastAPI]) -> None:
    s = get_settings()
    configure_logging(s.log_level, s.log_json)
    uvicorn.run(factory(), host=s.host, port=s.port, log_level=s.log_level.lower(),
                timeout_graceful_shutdown=GRACEFUL_SECONDS, access_log=False)
