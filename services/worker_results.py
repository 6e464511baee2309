"""Where a worker's facts go: the :class:`ResultSink` port every worker (runner, scorer,
generator) writes to, and its two adapters.

- :class:`BusResultSink`: the worker as its own service proposes each fact on the bus's
  ``results`` topic (Pub/Sub), for the registry to ingest.
- :class:`BatchingLocalSink`: in the local stack, facts go straight into the registry's
  ingestion in the same process, in batches.

Either way a fact carries a deterministic event id, so a fact proposed twice (a retry, a
redelivered message, a restarted worker) is recorded once.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import Protocol

from harness.events import EventMetadata, StoredEvent
from harness.events.base import DomainEvent
from harness.eventstore import StreamBusy


class ResultSink(Protocol):
    """Publishes result events for the registry to ingest (deterministic event ids)."""

    async def publish(self, stream_id: str, event: DomainEvent, event_id: uuid.UUID) -> None: ...

    async def flush(self) -> None: ...


# ---- on the bus (a worker as its own service) ----------------------------------------


class ResultPublisher(Protocol):
    """The bus side of :class:`BusResultSink` (``PubSubBus.publish_result``)."""

    async def publish_result(self, stream_id: str, event: DomainEvent, event_id: uuid.UUID,
                             metadata: EventMetadata) -> object: ...


class BusResultSink:
    """Publishes each result as soon as it exists (Pub/Sub batches on its own)."""

    def __init__(self, publisher: ResultPublisher, actor: str = "runner") -> None:
        self.publisher = publisher
        self.metadata = EventMetadata(actor=actor)

    async def publish(self, stream_id: str, event: DomainEvent, event_id: uuid.UUID) -> None:
        await self.publisher.publish_result(stream_id, event, event_id, self.metadata)

    async def flush(self) -> None:
        return None


# ---- in process (the local stack) ----------------------------------------------------


class FactRecorder(Protocol):
    """The registry's ingestion of worker facts (``Commands.record_facts``)."""

    async def record_facts(self, stream_id: str, events: list[DomainEvent], event_ids: list,
                           metadata: EventMetadata) -> list[StoredEvent]: ...


class BatchingLocalSink:
    """Buffers result events and ingests them in batches (one append per run stream per
    flush), so thousands of results cost a few hundred appends, not thousands.

    A crash loses only unflushed results; they were never recorded, so a restarted runner
    computes them again and deterministic ids keep every result exactly once.
    """

    def __init__(self, commands: FactRecorder, *, max_batch: int = 200,
                 max_delay_s: float = 0.05, actor: str = "runner") -> None:
        self.commands = commands
        self.max_batch = max_batch
        self.max_delay_s = max_delay_s
        self.metadata = EventMetadata(actor=actor)
        self._pending: dict[str, list[tuple[DomainEvent, uuid.UUID]]] = {}
        self._lock = asyncio.Lock()
        self._timer: asyncio.Task | None = None

    async def publish(self, stream_id: str, event: DomainEvent, event_id: uuid.UUID) -> None:
        self._pending.setdefault(stream_id, []).append((event, event_id))
        if sum(len(v) for v in self._pending.values()) >= self.max_batch:
            await self.flush()
        elif self._timer is None or self._timer.done():
            self._timer = asyncio.create_task(self._flush_later())

    async def _flush_later(self) -> None:
        await asyncio.sleep(self.max_delay_s)
        await self.flush()

    async def flush(self) -> None:
        async with self._lock:
            pending, self._pending = self._pending, {}
            for stream_id, items in pending.items():
                while True:
                    try:
                        await self.commands.record_facts(stream_id, [e for e, _ in items],
                                                         [i for _, i in items], self.metadata)
                        break
                    except StreamBusy as exc:  # results must not be dropped: wait and retry
                        await asyncio.sleep(exc.retry_after_s)

    async def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._timer
        await self.flush()
