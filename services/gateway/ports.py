"""What the gateway needs from the registry, as ports. The gateway shares the registry's
database and runtime but imports none of its modules: the composition root
(``services/bootstrap.py``) passes the registry's runtime and its resolve query in."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import asyncpg

from harness.web.auth import Authenticator

ResolveApplication = Callable[[asyncpg.Pool, str], Awaitable[tuple[bytes, str]]]
"""``(pool, application id) -> (body, etag)``: what the application runs now, as the JSON
body and ETag the resolve cache keeps (with ``split`` when the application's environment
is split: the gateway picks a request's variant with ``harness.rollout.for_key``). Raises a
``ProblemError`` when it cannot run (no such application, its environment points at no
version)."""


class ResolveCache(Protocol):
    """Resolved bodies, emptied when the registry commits (``generation`` guards a put
    against a body read before an invalidation)."""

    generation: int

    def get(self, key: str) -> tuple[bytes, str] | None: ...

    def put(self, key: str, body: bytes, etag: str, generation: int) -> None: ...


class Notifier(Protocol):
    def on_disconnect(self, callback: Callable[[], None]) -> None: ...


class FactRecorder(Protocol):
    """Appends facts with deterministic event ids (``CostAlertFired``); the registry's
    outbox relay publishes them."""

    async def record_facts(self, stream_id: str, events: list, event_ids: list,
                           metadata: Any) -> Any: ...


class RegistryRuntime(Protocol):
    """The running registry's parts the gateway uses."""

    pool: asyncpg.Pool
    auth: Authenticator  # the API keys of the routes that ``require`` a role
    notifier: Notifier
    resolve_cache: ResolveCache
    commands: FactRecorder
    on_keys_changed: list[Callable[[str], None]]  # called with "api" | "gateway"


class StoppableRuntime(RegistryRuntime, Protocol):
    async def stop(self) -> None: ...


StartRuntime = Callable[[str], Awaitable[StoppableRuntime]]
"""Starts a runtime (no relay, no registry background work) on a database URL."""
