"""The Bus port: publish stored events, subscribe handlers by event type."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from harness.events import StoredEvent

BusHandler = Callable[[StoredEvent], Awaitable[None]]


class PublishIncomplete(Exception):  # noqa: N818  (a partial result, not only an error)
    """``publish_batch`` got the first ``published`` events of its batch accepted, then
    ``cause`` failed on the next one (events after it may have been published too: a
    retry from that event repeats them, which at-least-once delivery allows)."""

    def __init__(self, published: int, cause: BaseException) -> None:
        super().__init__(f"{published} events published, then: {cause}")
        self.published = published
        self.cause = cause


class Bus(Protocol):
    async def publish(self, event: StoredEvent) -> None: ...

    async def publish_batch(self, events: Sequence[StoredEvent]) -> None:
        """Publish ``events`` (in order per stream); raise ``PublishIncomplete`` when not
        all of them were accepted."""
        ...

    def subscribe(self, name: str, handler: BusHandler, types: set[str] | None = None) -> None: ...
