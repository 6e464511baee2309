"""In-process bus: the local default, fed by the outbox relay.

Each subscriber gets every published event of the types it asked for, in publish order.
A handler that raises makes ``publish`` raise too, so the relay keeps its checkpoint and
redelivers: the same at-least-once contract as Pub/Sub.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import structlog

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

    def subscribe(self, name: str, handler: BusHandler, types: set[str] | None = None) -> None:
        self._subscribers.append(_Subscriber(name, handler, types))

    async def publish(self, event: StoredEvent) -> None:
        for sub in self._subscribers:
            if sub.types is None or event.type in sub.types:
                await sub.handler(event)

    async def publish_batch(self, events: Sequence[StoredEvent]) -> None:
        """One event after the other, each to every subscriber, as ``publish``."""
        for index, event in enumerate(events):
            try:
                await self.publish(event)
            except Exception as exc:
                raise PublishIncomplete(index, exc) from exc
