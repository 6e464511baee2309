"""Idempotent consumers: remember processed event ids in ``processed_events``."""

from __future__ import annotations

import asyncpg

from harness.events import StoredEvent

from .port import BusHandler


def idempotent(pool: asyncpg.Pool, consumer: str, handler: BusHandler) -> BusHandler:
    """Wrap ``handler`` so each event id is handled once per consumer.

    The id is recorded after the handler succeeds; a handler that fails is retried on
    redelivery. Handlers whose effects are themselves idempotent (deterministic event ids)
    stay correct even if a crash lands between the effect and the record.
    """

    async def wrapped(event: StoredEvent) -> None:
        seen = await pool.fetchval(
            "SELECT 1 FROM processed_events WHERE consumer = $1 AND event_id = $2",
            consumer, event.event_id,
        )
        if seen:
            return
        await handler(event)
        await pool.execute(
            "INSERT INTO processed_events (consumer, event_id) VALUES ($1, $2) "
            "ON CONFLICT DO NOTHING",
            consumer, event.event_id,
        )

    return wrapped
