"""The tables beside the webhook events: secrets, health, deliveries and their attempts.

They are not read models (``harness projections rebuild`` keeps them): a secret is never
in an event, and attempts are what happened outside, not decisions. The handlers write
secrets and health in the transaction of the webhook's events; the fan-out and the
deliverer write the rest.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import asyncpg

from harness.events import StoredEvent, registry

from ..domain.webhooks import gives_up

Conn = asyncpg.Connection | asyncpg.Pool


# ---------------------------------------------------------------------- secrets, health
async def keep_secret(conn: Conn, webhook_id: str, secret: str) -> None:
    await conn.execute("INSERT INTO webhook_secrets (webhook_id, secret) VALUES ($1, $2)",
                       webhook_id, secret)


async def forget(conn: Conn, webhook_id: str) -> None:
    """A deleted webhook's secret, health and delivery log (attempts cascade)."""
    await conn.execute("DELETE FROM webhook_secrets WHERE webhook_id = $1", webhook_id)
    await conn.execute("DELETE FROM webhook_health WHERE webhook_id = $1", webhook_id)
    await conn.execute("DELETE FROM webhook_deliveries WHERE webhook_id = $1", webhook_id)


async def reset_health(conn: Conn, webhook_id: str) -> None:
    """An enabled webhook starts a new count of failures."""
    await conn.execute("UPDATE webhook_health SET consecutive_failures = 0 "
                       "WHERE webhook_id = $1", webhook_id)


# ---------------------------------------------------------------------- deliveries
@dataclass(frozen=True)
class NewDelivery:
    webhook_id: str
    event_id: uuid.UUID
    global_position: int
    event_type: str
    ordering_key: str


async def record_deliveries(conn: Conn, deliveries: list[NewDelivery]) -> int:
    """Queue deliveries (one per webhook and event: those recorded before are skipped);
    how many are new. A webhook deleted meanwhile gets none."""
    if not deliveries:
        return 0
    result = await conn.execute(
        "INSERT INTO webhook_deliveries (webhook_id, event_id, global_position, event_type, "
        "ordering_key) "
        "SELECT d.* FROM unnest($1::text[], $2::uuid[], $3::bigint[], $4::text[], $5::text[]) "
        "AS d(webhook_id, event_id, global_position, event_type, ordering_key) "
        "WHERE EXISTS (SELECT 1 FROM webhooks w WHERE w.id = d.webhook_id) "
        "ON CONFLICT (webhook_id, event_id) DO NOTHING",
        [d.webhook_id for d in deliveries], [d.event_id for d in deliveries],
        [d.global_position for d in deliveries], [d.event_type for d in deliveries],
        [d.ordering_key for d in deliveries])
    return int(result.rsplit(" ", 1)[1])


@dataclass(frozen=True)
class Due:
    """A claimed delivery, with what sending it needs."""

    id: int
    webhook_id: str
    event_id: uuid.UUID
    attempts: int
    url: str
    secret: str


# The first pending delivery of each (enabled webhook, ordering key) whose attempt is due
# and that no deliverer holds: claimed for lease seconds. A later delivery of the same key
# waits for it, so each key's deliveries arrive in order. Concurrent claimers re-check the
# row under its lock (READ COMMITTED), so a delivery is claimed once.
_HEADS = """
    SELECT DISTINCT ON (q.webhook_id, q.ordering_key) q.id, q.next_attempt_at, q.claimed_until
      FROM webhook_deliveries q
      JOIN webhooks w ON w.id = q.webhook_id AND w.enabled
     WHERE q.status = 'pending'
     ORDER BY q.webhook_id, q.ordering_key, q.global_position"""

_CLAIM = f"""
UPDATE webhook_deliveries d
   SET claimed_until = now() + make_interval(secs => $2)
  FROM (SELECT h.id FROM ({_HEADS}) h
         WHERE h.next_attempt_at <= now()
           AND (h.claimed_until IS NULL OR h.claimed_until <= now())
         ORDER BY h.next_attempt_at
         LIMIT $1) due
 WHERE d.id = due.id AND d.status = 'pending'
   AND (d.claimed_until IS NULL OR d.claimed_until <= now())
RETURNING d.id, d.webhook_id, d.event_id, d.attempts
"""


async def claim_due(pool: asyncpg.Pool, limit: int, lease_s: float) -> list[Due]:
    rows = await pool.fetch(_CLAIM, limit, lease_s)
    if not rows:
        return []
    targets = {r["id"]: (r["url"], r["secret"]) for r in await pool.fetch(
        "SELECT w.id, w.url, s.secret FROM webhooks w "
        "JOIN webhook_secrets s ON s.webhook_id = w.id WHERE w.id = ANY($1)",
        list({r["webhook_id"] for r in rows}))}
    return [Due(r["id"], r["webhook_id"], r["event_id"], r["attempts"],
                *targets[r["webhook_id"]]) for r in rows if r["webhook_id"] in targets]


async def next_due_in(pool: asyncpg.Pool) -> float | None:
    """Seconds until the first pending delivery of a stream (of an enabled webhook) may
    be tried: its retry time, or the end of its claim; 0 when one is due now, ``None``
    when nothing waits."""
    value = await pool.fetchval(f"""
        SELECT extract(epoch FROM min(greatest(h.next_attempt_at,
                                               coalesce(h.claimed_until, h.next_attempt_at)))
                                  - now())
          FROM ({_HEADS}) h""")
    return None if value is None else max(0.0, float(value))


async def event_of(conn: Conn, event_id: uuid.UUID) -> StoredEvent | None:
    row = await conn.fetchrow(
        "SELECT global_position, event_id, stream_id, stream_version, type, schema_version, "
        "data, metadata, recorded_at FROM events WHERE event_id = $1", event_id)
    return None if row is None else registry.upcast_stored(StoredEvent.from_record(row))


@dataclass(frozen=True)
class Outcome:
    """What one attempt got: a status code (``None``: no answer) and an error."""

    status_code: int | None
    error: str | None
    duration_ms: float

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


async def record_attempt(pool: asyncpg.Pool, due: Due, outcome: Outcome, retry_in_s: float,
                         max_failures: int, lease_s: float) -> int:
    """Record an attempt's outcome; a success delivers, a failure schedules the next
    attempt ``retry_in_s`` from now. Returns the webhook's failures in a row; when they
    reach ``max_failures`` the delivery stays claimed (no retry races the disabling, which
    the caller does next and then releases it)."""
    attempt = due.attempts + 1
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "INSERT INTO webhook_attempts (delivery_id, attempt, status_code, error, "
            "duration_ms) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            due.id, attempt, outcome.status_code, outcome.error, outcome.duration_ms)
        if outcome.ok:
            await conn.execute(
                "UPDATE webhook_deliveries SET status = 'delivered', attempts = $2, "
                "delivered_at = now(), claimed_until = NULL, last_status = $3, "
                "last_error = NULL WHERE id = $1", due.id, attempt, outcome.status_code)
            await conn.execute(
                "INSERT INTO webhook_health (webhook_id, last_success_at) VALUES ($1, now()) "
                "ON CONFLICT (webhook_id) DO UPDATE SET consecutive_failures = 0, "
                "last_success_at = now()", due.webhook_id)
            return 0
        failures = await conn.fetchval(
            "INSERT INTO webhook_health (webhook_id, consecutive_failures, last_failure_at) "
            "VALUES ($1, 1, now()) ON CONFLICT (webhook_id) DO UPDATE SET "
            "consecutive_failures = webhook_health.consecutive_failures + 1, "
            "last_failure_at = now() RETURNING consecutive_failures", due.webhook_id)
        held = lease_s if gives_up(failures, max_failures) else None
        await conn.execute(
            "UPDATE webhook_deliveries SET attempts = $2, "
            "claimed_until = now() + make_interval(secs => $6), "
            "next_attempt_at = now() + make_interval(secs => $3), last_status = $4, "
            "last_error = $5 WHERE id = $1",
            due.id, attempt, retry_in_s, outcome.status_code, outcome.error, held)
        return failures


async def release(pool: asyncpg.Pool, due: Due) -> None:
    """Give a claimed delivery back untried (the deliverer is stopping)."""
    await pool.execute("UPDATE webhook_deliveries SET claimed_until = NULL WHERE id = $1",
                       due.id)
