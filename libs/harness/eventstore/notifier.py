"""One LISTEN connection per process, fanned out to many waiters (SSE streams, caches)."""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg
import structlog

log = structlog.get_logger(__name__)


class Notifier:
    def __init__(self, url: str, channel: str = "harness_events") -> None:
        self.url = url
        self.channel = channel
        self.generation = 0
        self._conn: asyncpg.Connection | None = None
        self._cond = asyncio.Condition()
        self._callbacks: list = []
        self._disconnect_callbacks: list = []

    def on_notify(self, callback) -> None:
        """``callback(payload)`` on every notification (the payload is the stream id)."""
        self._callbacks.append(callback)

    def on_disconnect(self, callback) -> None:
        """``callback()`` if the LISTEN connection is lost (caches must stop trusting it)."""
        self._disconnect_callbacks.append(callback)

    def _terminated(self, _conn) -> None:
        for cb in self._disconnect_callbacks:
            cb()

    def _notified(self, _conn, _pid, _channel, payload) -> None:
        self.generation += 1
        for cb in self._callbacks:
            cb(payload)
        asyncio.get_running_loop().create_task(self._wake())

    async def _wake(self) -> None:
        async with self._cond:
            self._cond.notify_all()

    async def start(self) -> None:
        self._conn = await asyncpg.connect(self.url)
        await self._conn.add_listener(self.channel, self._notified)
        self._conn.add_termination_listener(self._terminated)

    async def listen(self, channel: str, callback) -> None:
        """Also LISTEN on ``channel`` on the same connection: ``callback(payload)`` on each
        notification (e.g. ``harness_keys``: drop cached keys at once). Needs ``start``."""
        assert self._conn is not None, "start() first"

        def notified(_conn, _pid, _channel, payload) -> None:
            callback(payload)

        await self._conn.add_listener(channel, notified)

    async def stop(self) -> None:
        if self._conn is not None:
            self._conn.remove_termination_listener(self._terminated)
            with contextlib.suppress(Exception):
                await self._conn.close()
            self._conn = None

    async def wait(self, timeout: float) -> None:
        """Return after the next notification, or after ``timeout`` seconds."""
        async with self._cond:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._cond.wait(), timeout)
