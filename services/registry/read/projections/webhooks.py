"""Read model of webhook subscriptions: the ``webhooks`` table (never the secret, which
no event carries). Listed with the other projections in :mod:`.catalog`."""

from __future__ import annotations

import asyncpg

from harness.events import StoredEvent, registry
from harness.events.webhook_events import (
    WebhookDeleted,
    WebhookDisabled,
    WebhookEnabled,
    WebhookSubscribed,
)

from .projection import Projection


async def _subscribed(conn, e: WebhookSubscribed, ev: StoredEvent) -> None:
    await conn.execute(
        "INSERT INTO webhooks (id, url, event_types, prompt_id, application_id, description, "
        "since_position, created_at, created_by, updated_at) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $8)",
        e.webhook_id, e.url, e.event_types, e.prompt_id, e.application_id, e.description,
        ev.global_position, ev.recorded_at, ev.metadata.actor)


async def _disabled(conn, e: WebhookDisabled, ev: StoredEvent) -> None:
    await conn.execute(
        "UPDATE webhooks SET enabled = false, disabled_reason = $2, "
        "disabled_automatically = $3, updated_at = $4 WHERE id = $1",
        e.webhook_id, e.reason, e.automatic, ev.recorded_at)


async def _enabled(conn, e: WebhookEnabled, ev: StoredEvent) -> None:
    await conn.execute(
        "UPDATE webhooks SET enabled = true, disabled_reason = NULL, "
        "disabled_automatically = false, updated_at = $2 WHERE id = $1",
        e.webhook_id, ev.recorded_at)


async def _deleted(conn, e: WebhookDeleted, ev: StoredEvent) -> None:
    await conn.execute("DELETE FROM webhooks WHERE id = $1", e.webhook_id)


_HANDLERS = {
    WebhookSubscribed.TYPE: _subscribed,
    WebhookDisabled.TYPE: _disabled,
    WebhookEnabled.TYPE: _enabled,
    WebhookDeleted.TYPE: _deleted,
}


async def apply(conn: asyncpg.Connection, ev: StoredEvent) -> None:
    await _HANDLERS[ev.type](conn, registry.decode(ev), ev)


PROJECTION = Projection(name="webhooks", types=frozenset(_HANDLERS), apply=apply,
                        tables=("webhooks",))
