"""The Bus port: publish stored events, subscribe handlers by event type."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from harness.events import StoredEvent

BusHandler = Callable[[StoredEvent], Awaitable[None]]


class Bus(Protocol):
    async def publish(self, event: StoredEvent) -> None: ...

    def subscribe(self, name: str, handler: BusHandler, types: set[str] | None = None) -> None: ...
