"""The outbox relay: publishes stored events to the bus, in global order, from a checkpoint.

Each batch read from the store is published at once (``Bus.publish_batch``: on Pub/Sub
every event's copies go out concurrently, in order per stream), and the checkpoint moves
past the batch only once the bus accepted all of it. When an event fails, the checkpoint
moves to just before it and the relay retries from there: nothing is skipped, events
after it may be published twice (at-least-once). After a crash or restart the relay
resumes from its checkpoint.
"""

from __future__ import annotations

import structlog

from harness import metrics
from harness.events import StoredEvent
from harness.eventstore import CatchUpSubscription, EventStore
from harness.eventstore.subscription import BatchInterrupted

from .port import Bus, PublishIncomplete

log = structlog.get_logger(__name__)


class OutboxRelay:
    def __init__(
        self,
        store: EventStore,
        bus: Bus,
        *,
        name: str = "outbox-relay",
        batch_size: int = 500,
        retry_delay: float = 0.5,
        listen_url: str | None = None,
    ) -> None:
        self.bus = bus
        self.retry_delay = retry_delay
        self.published = 0  # events the bus accepted (a retried event counts again)
        self.subscription = CatchUpSubscription(
            store, name, batch_handler=self._publish, batch_size=batch_size,
            listen_url=listen_url)

    async def _publish(self, events: list[StoredEvent]) -> None:
        try:
            await self.bus.publish_batch(events)
        except PublishIncomplete as exc:
            self.published += exc.published
            _count_published(events[:exc.published])
            raise BatchInterrupted(exc.published, exc.cause) from exc.cause
        self.published += len(events)
        _count_published(events)

    async def run(self) -> None:
        await self.subscription.run_retrying(self.retry_delay, "relay_publish_failed")

    def stop(self) -> None:
        self.subscription.stop()


def _count_published(events: list[StoredEvent]) -> None:
    for event in events:
        metrics.bus_published.labels(event.type).inc()
