"""Events of annotation queues: traces and run results waiting for people's scores."""

from __future__ import annotations

from typing import Any

from .base import DomainEvent, registry


@registry.register
class QueueCreated(DomainEvent):
    """An annotation queue (stream ``queue-<id>``): the score configs its reviewers give
    (by name) and who may review (none named: anyone with an editor key)."""

    TYPE = "QueueCreated"
    queue_id: str
    name: str
    description: str = ""
    score_names: list[str]
    reviewers: list[str] = []


@registry.register
class QueueItemsAdded(DomainEvent):
    """Items join the queue, in order: ``{item_id, kind: "trace", trace_id}`` or
    ``{item_id, kind: "result", run_id, result_id}``."""

    TYPE = "QueueItemsAdded"
    queue_id: str
    items: list[dict[str, Any]]


@registry.register
class QueueItemCompleted(DomainEvent):
    """A reviewer (the event's actor) finished an item (its scores are their own events)."""

    TYPE = "QueueItemCompleted"
    queue_id: str
    item_id: str
