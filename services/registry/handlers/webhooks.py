"""Webhooks: subscribe, disable, enable, delete.

Subscribing checks where the URL points now (its host must resolve to addresses the
server may reach: :mod:`harness.webhooks.targets`), then, under the stream's lock, that
the prompt or application filtered on exists; the secret is written in the same
transaction as the event, beside it (``webhook_secrets``), never into it. Deleting
removes the secret and the delivery log with the subscription; enabling starts a new
count of failures.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import asyncpg

from harness.events import EventMetadata, StoredEvent, streams
from harness.events.base import DomainEvent
from harness.events.webhook_events import WebhookDeleted, WebhookEnabled
from harness.webhooks.targets import UnsafeTarget, check_url, default_port, resolve

from ..commands import EventSourced
from ..domain import webhooks as domain
from ..domain.errors import Invalid
from ..webhooks import store
from ..webhooks.settings import DeliverySettings

if TYPE_CHECKING:
    from ..runtime import Runtime

WEBHOOK = EventSourced(domain.WebhookState(), domain.replay)


async def check_reachable(url: str) -> None:
    """``url``'s host resolves only to addresses deliveries may go to (Invalid otherwise)."""
    domain.check_target(url)
    parts = check_url(url)
    try:
        await resolve(parts.hostname or "", default_port(parts),
                      DeliverySettings.current().allowed_networks)
    except UnsafeTarget as exc:
        raise Invalid(f"url: {exc}", field="url") from exc


async def _check_filter(conn: asyncpg.Connection, command: domain.Subscribe) -> None:
    if command.prompt_id and not await conn.fetchval(
            "SELECT 1 FROM prompts WHERE id = $1", command.prompt_id):
        raise Invalid(f"prompt_id: prompt {command.prompt_id} not found", field="prompt_id")
    if command.application_id and not await conn.fetchval(
            "SELECT 1 FROM applications WHERE id = $1", command.application_id):
        raise Invalid(f"application_id: application {command.application_id} not found",
                      field="application_id")


async def subscribe(rt: Runtime, command: domain.Subscribe, secret: str,
                    metadata: EventMetadata) -> tuple[domain.WebhookState, list[StoredEvent]]:
    await check_reachable(command.url)

    async def decide(conn: asyncpg.Connection, state: domain.WebhookState) -> list[DomainEvent]:
        await _check_filter(conn, command)
        events = domain.decide(command, state)
        await store.keep_secret(conn, command.webhook_id, secret)  # the append's transaction
        return events

    return await rt.commands.execute(streams.webhook(command.webhook_id), WEBHOOK, decide,
                                     metadata)


async def change(rt: Runtime, webhook_id: str,
                 command: domain.Disable | domain.Enable | domain.Delete,
                 metadata: EventMetadata) -> tuple[domain.WebhookState, list[StoredEvent]]:
    async def decide(conn: asyncpg.Connection, state: domain.WebhookState) -> list[DomainEvent]:
        events = domain.decide(command, state)
        for event in events:
            if isinstance(event, WebhookDeleted):
                await store.forget(conn, webhook_id)
            elif isinstance(event, WebhookEnabled):
                await store.reset_health(conn, webhook_id)
        return events

    return await rt.commands.execute(streams.webhook(webhook_id), WEBHOOK, decide, metadata)
