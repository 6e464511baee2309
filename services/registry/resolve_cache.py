"""A per-process cache of resolved applications, invalidated by registry events.

``GET /applications/{id}/resolved`` is the hot path of every downstream app. Its answer
only changes when a prompt or application stream changes, so the answer is cached and the
whole cache is dropped (a) synchronously when this process commits such a command and
(b) when any process's append sends ``NOTIFY harness_events`` for such a stream. A short
TTL bounds staleness if notifications are ever lost (e.g. the LISTEN connection drops).
When an answer expires under load, the requests that miss it meanwhile share one load
(:meth:`ResolveCache.get_or_load`) instead of each querying the database at once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from harness.events import streams

_CATEGORIES = (streams.PROMPT, streams.APPLICATION)


class ResolveCache:
    def __init__(self, ttl_s: float = 2.0, max_entries: int = 10_000) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._entries: dict[str, tuple[float, int, bytes, str]] = {}
        self.generation = 0
        self.enabled = True
        self._loading: dict[tuple[str, int], asyncio.Future[tuple[bytes, str]]] = {}

    def get(self, key: str) -> tuple[bytes, str] | None:
        if not self.enabled:
            return None
        hit = self._entries.get(key)
        if hit is None:
            return None
        at, gen, body, etag = hit
        if gen != self.generation or time.monotonic() - at > self.ttl_s:
            self._entries.pop(key, None)
            return None
        return body, etag

    async def get_or_load(self, key: str, load: Callable[[], Awaitable[tuple[bytes, str]]],
                          ) -> tuple[bytes, str]:
        """The cached answer, else the answer of one ``load`` shared by every request that
        misses ``key`` while it runs (a request after an invalidation starts its own)."""
        hit = self.get(key)
        if hit is not None:
            return hit
        flight_key = (key, self.generation)
        flight = self._loading.get(flight_key)
        if flight is None:
            flight = self._loading[flight_key] = asyncio.ensure_future(load())

            def landed(f: asyncio.Future, generation: int = flight_key[1]) -> None:
                self._loading.pop(flight_key, None)
                if not f.cancelled() and f.exception() is None:
                    self.put(key, *f.result(), generation)

            flight.add_done_callback(landed)
        return await asyncio.shield(flight)

    def put(self, key: str, body: bytes, etag: str, generation: int) -> None:
        """Store an answer computed while the cache was at ``generation`` (read before the
        query), so an invalidation that raced the query is never hidden."""
        if not self.enabled or generation != self.generation:
            return
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[key] = (time.monotonic(), generation, body, etag)

    def invalidate(self, stream_id: str | None = None) -> None:
        if stream_id is None or streams.category(stream_id) in _CATEGORIES:
            self.generation += 1
            self._entries.clear()
