"""Event types, the envelope, schema versions and upcasters."""

from . import (  # noqa: F401  (registers the types)
    dataset_events,
    evaluator_events,
    feedback_events,
    gateway_events,
    generation_events,
    queue_events,
    registry_events,
    run_events,
    score_alert_events,
    webhook_events,
)
from .base import DomainEvent, EventRegistry, UnknownEventType, registry
from .envelope import EventMetadata, NewEvent, StoredEvent

__all__ = [
    "DomainEvent", "EventRegistry", "UnknownEventType", "registry",
    "EventMetadata", "NewEvent", "StoredEvent",
]
