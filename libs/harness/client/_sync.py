"""``HarnessClient``: the same client for sync (threaded) apps.

It owns one background thread running an asyncio loop; the refresher (SSE or Pub/Sub)
runs there, and every method submits a coroutine to it and waits. Safe to share between
threads. Listeners registered with ``on_change``/``on_event`` run on that thread.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import httpx

from ._async import (
    AsyncHarnessClient,
    ChangeListener,
    ClientStats,
    EventListener,
    Fallback,
    Refresh,
)
from .cache import Kind
from .models import PromptVersion, Resolved

T = TypeVar("T")


class HarnessClient:
    """Sync facade of ``AsyncHarnessClient`` (see there); close it (or use ``with``)."""

    def __init__(self, base_url: str | None = None, api_key: str | None = None, *,
                 cache_dir: str | Path | None = None, refresh: Refresh = "sse",
                 ttl_s: float = 30.0, timeout_s: float = 5.0, retry_after_s: float = 5.0,
                 reconnect_max_s: float = 15.0,
                 pubsub_project: str | None = None, pubsub_subscription: str | None = None,
                 pubsub_topic_prefix: str | None = None,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._client = AsyncHarnessClient(
            base_url, api_key, cache_dir=cache_dir, refresh=refresh, ttl_s=ttl_s,
            timeout_s=timeout_s, retry_after_s=retry_after_s, reconnect_max_s=reconnect_max_s,
            pubsub_project=pubsub_project, pubsub_subscription=pubsub_subscription,
            pubsub_topic_prefix=pubsub_topic_prefix, transport=transport)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="harness-client", daemon=True)
        self._thread.start()
        self._closed = False
        self._call(self._client.start())

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_forever()

    def _call(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError("HarnessClient methods cannot be called from its own listeners; "
                               "use the value passed to the listener")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def __enter__(self) -> HarnessClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._call(self._client.aclose(), timeout=30)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            if not self._thread.is_alive():
                self._loop.close()

    # ---- the API ---------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return self._client.base_url

    @property
    def stats(self) -> ClientStats:
        return self._client.stats

    @property
    def connected(self) -> bool:
        return self._client.connected

    @property
    def async_client(self) -> AsyncHarnessClient:
        return self._client

    def resolve(self, app: str, *, key: str | None = None,
                fallback: Fallback | None = None) -> Resolved:
        return self._call(self._client.resolve(app, key=key, fallback=fallback))

    def get_prompt(self, name: str, version: int | None = None, *,
                   fallback: Fallback | None = None) -> PromptVersion:
        return self._call(self._client.get_prompt(name, version, fallback=fallback))

    def cached(self, app_or_prompt: str, *, kind: Kind = "app",
               version: int | None = None) -> Resolved | PromptVersion | None:
        return self._client.cached(app_or_prompt, kind=kind, version=version)

    def invalidate(self, app_or_prompt: str | None = None, *, kind: Kind = "app",
                   version: int | None = None) -> None:
        self._loop.call_soon_threadsafe(
            lambda: self._client.invalidate(app_or_prompt, kind=kind, version=version))

    def wait_connected(self, timeout: float | None = None) -> bool:
        return self._call(self._client.wait_connected(timeout))

    def on_change(self, listener: ChangeListener) -> ChangeListener:
        return self._client.on_change(listener)

    def on_event(self, listener: EventListener) -> EventListener:
        return self._client.on_event(listener)
