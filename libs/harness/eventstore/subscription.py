"""Catch-up subscriptions with named checkpoints.

A subscription reads the events table from its checkpoint in batches, hands each event to
its handler in global order, then saves the checkpoint. When it has caught up it waits for
a ``NOTIFY harness_events`` (sent by every append) or a poll interval, whichever is first.
Delivery is at-least-once: a crash between handling and saving the checkpoint repeats the
tail of the last batch, so handlers must be idempotent (event ids).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import asyncpg
import structlog

from harness.events import StoredEvent

from .store import EventStore

log = structlog.get_logger(__name__)

Handler = Callable[[StoredEvent], Awaitable[None]]


async def load_checkpoint(pool: asyncpg.Pool, name: str) -> int:
    v = await pool.fetchval("SELECT position FROM subscription_checkpoints WHERE name = $1", name)
    return int(v or 0)


async def save_checkpoint(pool: asyncpg.Pool, name: str, position: int) -> None:
    await pool.execute(
        """INSERT INTO subscription_checkpoints (name, position, updated_at)
           VALUES ($1, $2, now())
           ON CONFLICT (name) DO UPDATE SET position = EXCLUDED.position, updated_at = now()""",
        name, position,
    )


class CatchUpSubscription:
    def __init__(
        self,
        store: EventStore,
        name: str,
        handler: Handler,
        *,
        batch_size: int = 500,
        poll_interval: float = 1.0,
        types: list[str] | None = None,
        listen_url: str | None = None,
    ) -> None:
        self.store = store
        self.name = name
        self.handler = handler
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.types = types
        self.listen_url = listen_url
        self.position = 0
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()
        self._listener: asyncpg.Connection | None = None
        self.caught_up = asyncio.Event()

    def _notified(self, *_args) -> None:
        self._wake.set()

    async def _listen(self) -> None:
        try:
            if self.listen_url:
                self._listener = await asyncpg.connect(self.listen_url)
            else:
                self._listener = await self.store.pool.acquire()
            await self._listener.add_listener("harness_events", self._notified)
        except Exception as exc:  # polling still works without notifications
            log.warning("subscription_listen_failed", name=self.name, error=str(exc))
            self._listener = None

    async def _unlisten(self) -> None:
        if self._listener is None:
            return
        with contextlib.suppress(Exception):
            await self._listener.remove_listener("harness_events", self._notified)
        if self.listen_url:
            with contextlib.suppress(Exception):
                await self._listener.close()
        else:
            with contextlib.suppress(Exception):
                await self.store.pool.release(self._listener)
        self._listener = None

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    async def run_once(self) -> int:
        """Handle one batch; returns how many events were handled."""
        batch = await self.store.read_all(self.position, self.batch_size, types=None)
        handled = 0
        last = self.position
        for ev in batch:
            if self.types is None or ev.type in self.types:
                await self.handler(ev)
                handled += 1
            last = ev.global_position
        if batch:
            self.position = last
            await save_checkpoint(self.store.pool, self.name, self.position)
        return len(batch)

    async def run(self) -> None:
        self.position = await load_checkpoint(self.store.pool, self.name)
        await self._listen()
        log.info("subscription_started", name=self.name, position=self.position)
        try:
            while not self._stop.is_set():
                self._wake.clear()
                n = await self.run_once()
                if n >= self.batch_size:
                    continue
                self.caught_up.set()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.poll_interval)
        finally:
            await self._unlisten()
