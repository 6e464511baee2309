"""In-process bus: the local default, fed by the outbox relay.

Each subscriber gets every published event of the types it asked for, in publish order.
A handler that raises makes ``publish`` raise too, so the relay keeps its checkpoint and
redelivers: the same at-least-once contract as Pub/Sub.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import structlog

from harness import metrics
from harness.events import StoredEvent

from .port import BusHandler, PublishIncomplete

log = structlog.get_logger(__name__)


@dataclass
class _Subscriber:
    name: str
    handler: BusHandler
    types: set[str] | None


class InProcessBus:
    def __init__(self) -> None:
        self._subscribers: list[_Subscriber] = []
        self._failed: set[tuple[str, object]] = set()  # (subscriber, event id) to redeliver

    def subscribe(self, name: str, handler: BusHandler, types: set[str] | None = None) -> None:
        self._subscribers.append(_Subscriber(name, handler, types))
        metrics.bus_subscribed(name)

    async def publish(self, event: StoredEvent) -> None:
        for sub in self._subscribers:
            if sub.types is None or event.type in sub.types:
                await self._deliver(sub, event)

    async def _deliver(self, sub: _Subscriber, event: StoredEvent) -> None:
        key = (sub.name, event.event_id)
        if key in self._failed:
            metrics.bus_redelivered.labels(sub.name).inc()
        metrics.bus_consumer_lag_seconds.labels(sub.name).observe(
            metrics.seconds_since(event.recorded_at))
        try:
            await sub.handler(event)
        except Exception:
            self._failed.add(key)
            metrics.bus_delivered.labels(sub.name, "error").inc()
            raise
        self._failed.discard(key)
        metrics.bus_delivered.labels(sub.name, "ok").inc()

    async def publish_batch(self, events: Sequence[StoredEvent]) -> None:
        """One event after the other, each to every subscriber, as ``publish``."""
        for index, event in enumerate(events):
            try:
                await self.publish(event)
            except Exception as exc:
                raise PublishIncomplete(index, exc) from exc
