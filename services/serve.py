"""Run one service as its own process (``python -m services.<name>``): uvicorn on
``HARNESS_HOST``:``PORT``, JSON logs, graceful shutdown on SIGTERM (uvicorn stops
accepting, waits for in-flight requests, then the app's lifespan releases its work).

Before binding, each service asks whether it may run there (``harness.open_mode``): a
registry or gateway without API keys, or a worker that does not verify Pub/Sub push
tokens, starts only on loopback unless told ``--insecure`` (``HARNESS_INSECURE=1``).

``HARNESS_METRICS_PORT`` adds a listener on 127.0.0.1 that serves ``/metrics`` without a
key (``harness.metrics_listener``), for a scraper on the same host such as Cloud Run's
Managed Service for Prometheus sidecar; the public ``/metrics`` keeps its auth rule."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable

import uvicorn
from fastapi import FastAPI

from harness import gc_tuning, metrics_listener, open_mode
from harness.config import Settings, get_settings
from harness.logging import configure_logging, wants_json

GRACEFUL_SECONDS = 25  # Cloud Run gives 10 s by default, up to the request timeout

Guard = Callable[[Settings, bool], "str | None"]


def api_keys_guard(has_had_keys: Callable[[str], Awaitable[bool]]) -> Guard:
    """Registry and gateway: open mode (no API keys) only on loopback. A server that has
    had keys stays closed; a bootstrap key hash (Cloud Run) is added at start.
    ``has_had_keys(database_url)`` migrates the database and says whether a key was ever
    created (``services/bootstrap.py`` knows the migrations)."""

    def guard(s: Settings, insecure: bool) -> str | None:
        if insecure or open_mode.is_loopback(s.host) or s.bootstrap_key_sha256:
            return None
        from harness.db import resolve_database_url

        url = resolve_database_url(s.database_url, s.pgdata_dir)
        return open_mode.refusal(s.host, protected=asyncio.run(has_had_keys(url)),
                                 insecure=False)

    return guard


def push_token_guard(s: Settings, insecure: bool) -> str | None:
    """Workers: their push endpoint runs any event posted to it, so off loopback it must
    verify the Pub/Sub OIDC token (``HARNESS_PUSH_AUDIENCE``)."""
    return open_mode.refusal(s.host, protected=bool(s.push_audience), insecure=insecure,
                             what="verifying Pub/Sub push tokens",
                             remedy="set HARNESS_PUSH_AUDIENCE (the service's URL)")


def _insecure_flag(argv: list[str]) -> bool:
    unknown = [a for a in argv if a != "--insecure"]
    if unknown:
        sys.exit(f"unknown arguments {' '.join(unknown)}: the only option is --insecure; "
                 "everything else is configured by environment variables")
    return bool(argv)


def serve(factory: Callable[[], FastAPI], guard: Guard | None = None) -> None:
    # no cyclic collection while the service loads; warming LiteLLM, else a timer,
    # freezes what it loaded and turns the collector back on (harness.gc_tuning)
    gc_tuning.defer()
    s = get_settings()
    configure_logging(s.log_level, wants_json(s.log_format, s.log_json))
    insecure = _insecure_flag(sys.argv[1:]) or s.insecure
    if guard is not None:
        refused = guard(s, insecure)
        if refused:
            print(refused, file=sys.stderr)
            sys.exit(2)
    if s.metrics_port is not None:
        if s.metrics_port == s.port:
            sys.exit(f"HARNESS_METRICS_PORT {s.metrics_port} is the service's PORT too: "
                     "pick another port for the loopback metrics listener")
        metrics_listener.start(s.metrics_port)
    uvicorn.run(factory(), host=s.host, port=s.port, log_level=s.log_level.lower(),
                timeout_graceful_shutdown=GRACEFUL_SECONDS, access_log=False)
