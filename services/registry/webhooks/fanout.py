"""The fan-out: a checkpointed subscription to the event store that queues one delivery
per webhook that wants an event.

It reads a batch of events, then the subscriptions (so a webhook whose own event is in
the batch is seen: appends become visible in global order), and records the deliveries
before its checkpoint moves. A crash in between records them again on restart, which is
a no-op (one delivery per webhook and event): nothing is skipped, nothing doubled.
"""

from __future__ import annotations

from collections.abc import Callable

import structlog

from harness.events import StoredEvent
from harness.eventstore import CatchUpSubscription, EventStore

from ..domain import webhooks as domain
from ..read.queries import webhooks as queries
from . import store

log = structlog.get_logger(__name__)

NAME = "webhook-fanout"


class WebhookFanout:
    def __init__(self, event_store: EventStore, *, on_queued: Callable[[], None],
                 listen_url: str | None = None, batch_size: int = 500) -> None:
        self.pool = event_store.pool
        self.on_queued = on_queued
        self.queued = 0
        self.subscription = CatchUpSubscription(
            event_store, NAME, batch_handler=self._fan_out, batch_size=batch_size,
            listen_url=listen_url)

    async def _fan_out(self, events: list[StoredEvent]) -> None:
        if not events:
            return
        subscriptions = await queries.subscriptions(self.pool)
        deliveries = [
            store.NewDelivery(sub.webhook_id, ev.event_id, ev.global_position, ev.type,
                              domain.ordering_key(ev))
            for ev in events for sub in subscriptions if domain.wants(sub, ev)]
        new = await store.record_deliveries(self.pool, deliveries)
        if new:
            self.queued += new
            self.on_queued()

    async def run(self) -> None:
        """Until stopped; a failed batch is tried again from the checkpoint."""
        await self.subscription.run_retrying(1.0, "webhook_fanout_failed")

    def stop(self) -> None:
        self.subscription.stop()
