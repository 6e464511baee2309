"""Webhook subscriptions, pure: the aggregate (subscribe, disable, enable, delete), which
events a subscription receives, their order, the body delivered and the retry policy.

A subscription receives the events of its ``event_types`` (``*``: all) recorded after it
was made, narrowed to one prompt (the prompt's own events and events naming it in
``prompt_id``) or one application (its own events, events naming it, and the events of
the prompt it runs). Deliveries of one subscription keep the order of their stream (so
of each prompt); a failed delivery is retried after ``base * 2**(attempt - 1)`` seconds
(capped) and holds back the later ones of its stream, and a subscription whose
deliveries failed ``max_failures`` times in a row is disabled.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

import orjson

from harness.events import StoredEvent, registry, streams
from harness.events.base import DomainEvent
from harness.events.webhook_events import (
    WebhookDeleted,
    WebhookDisabled,
    WebhookEnabled,
    WebhookSubscribed,
)
from harness.webhooks.targets import UnsafeTarget, check_url

from .errors import AlreadyExists, Invalid, NotFound

ALL_TYPES = "*"
MAX_EVENT_TYPES = 200


# ---------------------------------------------------------------------- the aggregate
@dataclass(frozen=True)
class Subscribe:
    webhook_id: str
    url: str
    event_types: tuple[str, ...]
    prompt_id: str | None = None
    application_id: str | None = None
    description: str = ""


@dataclass(frozen=True)
class Disable:
    reason: str = ""
    automatic: bool = False
    failures: int | None = None


@dataclass(frozen=True)
class Enable:
    pass


@dataclass(frozen=True)
class Delete:
    pass


Command = Subscribe | Disable | Enable | Delete


@dataclass(frozen=True)
class WebhookState:
    webhook_id: str | None = None
    url: str = ""
    event_types: tuple[str, ...] = ()
    prompt_id: str | None = None
    application_id: str | None = None
    enabled: bool = True
    deleted: bool = False

    @property
    def exists(self) -> bool:
        return self.webhook_id is not None and not self.deleted


def check_event_types(event_types: Iterable[str]) -> tuple[str, ...]:
    """The types, each once, when every one is a registered event type or ``*``."""
    wanted = tuple(dict.fromkeys(t.strip() for t in event_types))
    if not wanted:
        raise Invalid("event_types: name at least one event type, or *", field="event_types")
    if len(wanted) > MAX_EVENT_TYPES:
        raise Invalid(f"event_types: at most {MAX_EVENT_TYPES}", field="event_types")
    if ALL_TYPES in wanted:
        if len(wanted) > 1:
            raise Invalid("event_types: * already means every type; give it alone",
                          field="event_types")
        return wanted
    unknown = sorted(t for t in wanted if not registry.knows(t))
    if unknown:
        raise Invalid(f"event_types: unknown event type(s) {', '.join(unknown)} (docs/events "
                      "lists them)", field="event_types", unknown=unknown)
    return wanted


def check_target(url: str) -> None:
    try:
        check_url(url)
    except UnsafeTarget as exc:
        raise Invalid(f"url: {exc}", field="url") from exc


def _subscribe(command: Subscribe, state: WebhookState) -> list[DomainEvent]:
    if state.webhook_id is not None:
        raise AlreadyExists(f"webhook {command.webhook_id} already exists")
    check_target(command.url)
    if command.prompt_id and command.application_id:
        raise Invalid("give prompt_id or application_id, not both", field="application_id")
    return [WebhookSubscribed(
        webhook_id=command.webhook_id, url=command.url,
        event_types=list(check_event_types(command.event_types)),
        prompt_id=command.prompt_id or None, application_id=command.application_id or None,
        description=command.description)]


def decide(command: Command, state: WebhookState) -> list[DomainEvent]:
    if isinstance(command, Subscribe):
        return _subscribe(command, state)
    if not state.exists:
        raise NotFound("webhook not found")
    assert state.webhook_id is not None
    if isinstance(command, Disable):
        if not state.enabled:
            return []  # already paused (a user's reason is kept)
        return [WebhookDisabled(webhook_id=state.webhook_id, reason=command.reason,
                                automatic=command.automatic, failures=command.failures)]
    if isinstance(command, Enable):
        return [] if state.enabled else [WebhookEnabled(webhook_id=state.webhook_id)]
    return [WebhookDeleted(webhook_id=state.webhook_id)]


def evolve(state: WebhookState, event: DomainEvent) -> WebhookState:
    if isinstance(event, WebhookSubscribed):
        return WebhookState(webhook_id=event.webhook_id, url=event.url,
                            event_types=tuple(event.event_types), prompt_id=event.prompt_id,
                            application_id=event.application_id)
    if isinstance(event, WebhookDisabled):
        return replace(state, enabled=False)
    if isinstance(event, WebhookEnabled):
        return replace(state, enabled=True)
    if isinstance(event, WebhookDeleted):
        return replace(state, deleted=True)
    return state


def replay(events: Iterable[StoredEvent], state: WebhookState = WebhookState()) -> WebhookState:
    for ev in events:
        state = evolve(state, registry.decode(ev))
    return state


# ---------------------------------------------------------------------- what is delivered
@dataclass(frozen=True)
class Subscription:
    """What the fan-out knows of a subscription: its filter, and the position of the
    event that made it (only later events are delivered)."""

    webhook_id: str
    event_types: frozenset[str]
    since_position: int
    prompt_id: str | None = None
    application_id: str | None = None
    application_prompt_id: str | None = None  # the prompt the application runs now


def concerns_prompt(ev: StoredEvent, prompt_id: str) -> bool:
    return ev.stream_id == streams.prompt(prompt_id) or ev.data.get("prompt_id") == prompt_id


def concerns_application(ev: StoredEvent, application_id: str) -> bool:
    return (ev.stream_id == streams.application(application_id)
            or ev.data.get("application_id") == application_id)


def wants(sub: Subscription, ev: StoredEvent) -> bool:
    """Whether ``sub`` receives ``ev``."""
    if ev.global_position <= sub.since_position:
        return False
    if ALL_TYPES not in sub.event_types and ev.type not in sub.event_types:
        return False
    if sub.prompt_id:
        return concerns_prompt(ev, sub.prompt_id)
    if sub.application_id:
        return concerns_application(ev, sub.application_id) or bool(
            sub.application_prompt_id and concerns_prompt(ev, sub.application_prompt_id))
    return True


def ordering_key(ev: StoredEvent) -> str:
    """Deliveries with the same key (of one subscription) arrive in the order of the
    events: the stream, so every prompt's events arrive in order."""
    return ev.stream_id


def body(ev: StoredEvent, webhook_id: str) -> bytes:
    """The JSON a delivery posts: the stored event as ``GET /events`` shows it, and the
    subscription it is for. A retry posts the same bytes (the signature is new)."""
    doc: dict[str, Any] = {
        "webhook_id": webhook_id, "event_id": str(ev.event_id), "type": ev.type,
        "schema_version": ev.schema_version, "stream_id": ev.stream_id,
        "stream_version": ev.stream_version, "global_position": ev.global_position,
        "recorded_at": ev.recorded_at.isoformat(), "data": ev.data,
        "metadata": ev.metadata.model_dump(exclude_none=True),
    }
    return orjson.dumps(doc)


# ---------------------------------------------------------------------- retries
def retry_delay_s(attempts: int, base_s: float, max_s: float) -> float:
    """How long to wait after the ``attempts``-th failed attempt of a delivery."""
    return min(max_s, base_s * 2 ** max(0, attempts - 1))


def gives_up(consecutive_failures: int, max_failures: int) -> bool:
    """Whether a subscription whose deliveries failed this many times in a row is
    disabled."""
    return consecutive_failures >= max_failures
