"""Reads of webhook subscriptions (never their secrets), their delivery log, and what
the fan-out needs to match events."""

from __future__ import annotations

from typing import Literal

import asyncpg

from ...domain import webhooks as domain
from ...domain.errors import NotFound
from ...schemas import DeliveryAttemptOut, DeliveryOut, Page, WebhookOut

_WEBHOOK = """
SELECT w.id, w.url, w.event_types, w.prompt_id, w.application_id, w.description, w.enabled,
       w.disabled_reason, w.disabled_automatically, w.created_at, w.created_by, w.updated_at,
       coalesce(h.consecutive_failures, 0) AS consecutive_failures, h.last_success_at,
       h.last_failure_at,
       (SELECT count(*) FROM webhook_deliveries d
         WHERE d.webhook_id = w.id AND d.status = 'pending') AS pending
  FROM webhooks w LEFT JOIN webhook_health h ON h.webhook_id = w.id
"""


async def get_webhook(pool: asyncpg.Pool, webhook_id: str) -> WebhookOut:
    row = await pool.fetchrow(_WEBHOOK + " WHERE w.id = $1", webhook_id)
    if row is None:
        raise NotFound(f"webhook {webhook_id} not found")
    return WebhookOut(**dict(row))


async def list_webhooks(pool: asyncpg.Pool, limit: int, offset: int) -> Page[WebhookOut]:
    total = await pool.fetchval("SELECT count(*) FROM webhooks")
    rows = await pool.fetch(_WEBHOOK + " ORDER BY w.created_at, w.id LIMIT $1 OFFSET $2",
                            limit, offset)
    return Page(items=[WebhookOut(**dict(r)) for r in rows], total=total, limit=limit,
                offset=offset)


async def list_deliveries(pool: asyncpg.Pool, webhook_id: str,
                          status: Literal["pending", "delivered"] | None, limit: int,
                          offset: int) -> Page[DeliveryOut]:
    """Newest event first, each delivery with its attempts."""
    await get_webhook(pool, webhook_id)
    where = "d.webhook_id = $1 AND ($2::text IS NULL OR d.status = $2)"
    total = await pool.fetchval(f"SELECT count(*) FROM webhook_deliveries d WHERE {where}",
                                webhook_id, status)
    rows = await pool.fetch(
        f"""SELECT d.*, e.stream_id FROM webhook_deliveries d
              JOIN events e ON e.event_id = d.event_id
             WHERE {where} ORDER BY d.global_position DESC LIMIT $3 OFFSET $4""",
        webhook_id, status, limit, offset)
    attempts: dict[int, list[DeliveryAttemptOut]] = {}
    for a in await pool.fetch(
            "SELECT delivery_id, attempt, at, status_code, error, duration_ms "
            "FROM webhook_attempts WHERE delivery_id = ANY($1) ORDER BY attempt",
            [r["id"] for r in rows]):
        attempts.setdefault(a["delivery_id"], []).append(DeliveryAttemptOut(**{
            k: a[k] for k in ("attempt", "at", "status_code", "error", "duration_ms")}))
    items = []
    for r in rows:
        d = dict(r)
        d.pop("claimed_until", None)
        d.pop("ordering_key", None)
        d["event_id"] = str(d["event_id"])
        if d["status"] != "pending":
            d["next_attempt_at"] = None
        items.append(DeliveryOut(**d, history=attempts.get(r["id"], [])))
    return Page(items=items, total=total, limit=limit, offset=offset)


async def subscriptions(pool: asyncpg.Pool) -> list[domain.Subscription]:
    """Every subscription, enabled or not (a disabled one keeps its deliveries queued),
    with the prompt its application runs now."""
    rows = await pool.fetch(
        "SELECT w.id, w.event_types, w.since_position, w.prompt_id, w.application_id, "
        "a.prompt_id AS application_prompt_id "
        "FROM webhooks w LEFT JOIN applications a ON a.id = w.application_id")
    return [domain.Subscription(
        webhook_id=r["id"], event_types=frozenset(r["event_types"]),
        since_position=r["since_position"], prompt_id=r["prompt_id"],
        application_id=r["application_id"],
        application_prompt_id=r["application_prompt_id"]) for r in rows]
