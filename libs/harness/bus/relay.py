"""The outbox relay: publishes stored events to the bus, in global order, from a checkpoint.

The checkpoint only moves after a publish succeeded, so a crash or a failed publish never
skips an event; after a restart the relay resumes from its checkpoint (at-least-once).
"""

from __future__ import annotations

import asyncio

import structlog

from harness.events import StoredEvent
from harness.eventstore import CatchUpSubscription, EventStore

from .port import Bus

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
        self.published = 0
        self.subscription = CatchUpSubscription(
            store, name, self._publish, batch_size=batch_size, listen_url=listen_url
        )

    async def _publish(self, event: StoredEvent) -> None:
        await self.bus.publish(event)
        self.published += 1

    async def run(self) -> None:
        while True:
            try:
                await self.subscription.run()
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # the checkpoint was not advanced past the failed event: retry from there
                log.warning("relay_publish_failed", error=str(exc),
                            position=self.subscription.position)
                await asyncio.sleep(self.retry_delay)

    def stop(self) -> None:
        self.subscription.stop()
