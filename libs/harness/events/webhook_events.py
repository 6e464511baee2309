"""Events of webhook subscriptions (stream ``webhook-<id>``).

The signing secret is never part of an event (events are published to the bus and shown
by ``GET /events``): the registry keeps it in ``webhook_secrets`` beside the stream.
Delivery attempts are not events either: they are the delivery log (``GET
/webhooks/{id}/deliveries``)."""

from __future__ import annotations

from .base import DomainEvent, registry


@registry.register
class WebhookSubscribed(DomainEvent):
    """Events of ``event_types`` (``*``: every type) recorded after this one are
    delivered to ``url``; with ``prompt_id`` or ``application_id`` only those concerning
    it."""

    TYPE = "WebhookSubscribed"
    webhook_id: str
    url: str
    event_types: list[str]
    prompt_id: str | None = None
    application_id: str | None = None
    description: str = ""


@registry.register
class WebhookDisabled(DomainEvent):
    """Deliveries pause (they keep being queued); ``automatic`` when the deliverer gave up
    after ``failures`` failed attempts in a row."""

    TYPE = "WebhookDisabled"
    webhook_id: str
    reason: str = ""
    automatic: bool = False
    failures: int | None = None


@registry.register
class WebhookEnabled(DomainEvent):
    """Deliveries resume where they paused, in order."""

    TYPE = "WebhookEnabled"
    webhook_id: str


@registry.register
class WebhookDeleted(DomainEvent):
    """The subscription, its secret and its delivery log are gone."""

    TYPE = "WebhookDeleted"
    webhook_id: str
