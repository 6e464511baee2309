"""Catch-up subscriptions with named checkpoints.

A subscription reads the events table from its checkpoint in batches, hands each event to
its handler in global order, then saves the checkpoint. When it has caught up it waits for
a ``NOTIFY harness_events`` (sent by every append) or a poll interval, whichever is first.
Delivery is at-least-once: a crash between handling and saving the checkpoint repeats the
tail of the last batch, so handlers must be idempotent (event ids).

A ``batch_handler`` instead gets each batch's events at once (the outbox relay publishes
them concurrently); when it raises ``BatchInterrupted(done)`` the checkpoint moves to just
before the first event it did not finish, then the error propagates.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import asyncpg
import structlog

from harness import metrics
from harness.events import StoredEvent

from .store import EventStore

log = structlog.get_logger(__name__)

Handler = Callable[[StoredEvent], Awaitable[None]]
BatchHandler = Callable[[list[StoredEvent]], Awaitable[None]]


class BatchInterrupted(Exception):  # noqa: N818  (a partial result, not only an error)
    """A batch handler finished the first ``done`` events of its batch, then failed."""

    def __init__(self, done: int, cause: BaseException) -> None:
        super().__init__(f"{done} events handled, then: {cause}")
        self.done = done
        self.cause = cause


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
        handler: Handler | None = None,
        *,
        batch_handler: BatchHandler | None = None,
        batch_size: int = 500,
        poll_interval: float = 1.0,
        types: list[str] | None = None,
        listen_url: str | None = None,
    ) -> None:
        self.store = store
        self.name = name
        if (handler is None) == (batch_handler is None):
            raise ValueError("give a handler or a batch_handler")
        self.handler = handler
        self.batch_handler = batch_handler
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.types = types
        self.listen_url = listen_url
        self.position = 0
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()
        self._listener: asyncpg.Connection | None = None
        self.caught_up = asyncio.Event()
        self.lag_seconds = 0.0  # age of the oldest event of the last batch (metrics)
        metrics.subscriptions.live.add(self)

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
        wanted = [ev for ev in batch if self.types is None or ev.type in self.types]
        if batch:
            metrics.subscriptions.saw(batch[-1].global_position)
        self.lag_seconds = metrics.seconds_since(batch[0].recorded_at) if batch else 0.0
        if self.batch_handler is not None:
            try:
                await self.batch_handler(wanted)
            except BatchInterrupted as exc:
                # everything before the first unfinished event is done
                await self._advance(wanted[exc.done].global_position - 1)
                raise
        else:
            assert self.handler is not None
            for ev in wanted:
                await self.handler(ev)
        if batch:
            await self._advance(batch[-1].global_position)
        return len(batch)

    async def _advance(self, position: int) -> None:
        if position > self.position:
            self.position = position
            await save_checkpoint(self.store.pool, self.name, position)

    async def run_retrying(self, retry_delay: float, failure: str) -> None:
        """:meth:`run` until stopped; a failed batch is logged as ``failure`` and tried again
        from the checkpoint (which is before the failed event) after ``retry_delay``."""
        while True:
            try:
                await self.run()
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning(failure, error=str(exc), position=self.position)
                await asyncio.sleep(retry_delay)

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
