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

    def on_notify(self, callback) -> None:
        self._callbacks.append(callback)

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

    async def stop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close()
            self._conn = None

    async def wait(self, timeout: float) -> None:
        """Return after the next notification, or after ``timeout`` seconds."""
        async with self._cond:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._cond.wait(), timeout)
