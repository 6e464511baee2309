"""Cost alerts: thresholds on spend per key, application or in total, per day or month
(UTC). Crossing one records ``CostAlertFired`` and posts a Slack-compatible webhook
(``{"text": ...}``) — once per alert and period.

Once per period is the database's job: a firing is the row (alert_id, period_start) of
``gateway_alert_firings``, claimed with ``INSERT ... ON CONFLICT DO NOTHING``; however many
gateway processes check at once, exactly one inserts it and goes on to record the event
(deterministic id: recording twice is a no-op) and deliver the webhook. Delivery is claimed
per attempt (``next_attempt_at``) and retried with backoff until it succeeds.

Spend is the sum of ``cost_usd`` of the traces (gateway and runner) since the period began;
checks run after each written trace batch of this process and every ``interval_s``.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import httpx
import structlog

from harness.events import EventMetadata, streams
from harness.events.gateway_events import CostAlertFired, alert_fired_event_id

log = structlog.get_logger(__name__)

SCOPES = ("key", "app", "total")
PERIODS = ("day", "month")
MAX_ATTEMPTS = 8


# ---------------------------------------------------------------- pure rules


def period_start(period: str, now: datetime) -> date:
    """The first day (UTC) of the period ``now`` falls in."""
    d = now.astimezone(UTC).date()
    return d if period == "day" else d.replace(day=1)


def period_start_ts(start: date) -> datetime:
    return datetime(start.year, start.month, start.day, tzinfo=UTC)


def retry_delay_s(attempts: int) -> float:
    """Backoff between delivery attempts: 5 s, 10 s, 20 s ... capped at 10 minutes."""
    return min(600.0, 5.0 * 2 ** max(0, attempts - 1))


@dataclass(frozen=True)
class Alert:
    id: uuid.UUID
    name: str | None
    scope: str
    target: str | None
    period: str
    threshold_usd: float
    webhook_url: str | None

    def describe(self) -> str:
        what = {"key": f"key {self.target}", "app": f"application {self.target}",
                "total": "all calls"}[self.scope]
        return f"{self.name} ({what})" if self.name else what

    def message(self, spent: float, start: date) -> str:
        since = start.isoformat() if self.period == "day" else f"{start:%Y-%m}"
        return (f":rotating_light: harness cost alert: {self.describe()} spent "
                f"${spent:,.4f} this {self.period} ({since}, UTC), over the threshold of "
                f"${self.threshold_usd:,.4f}.")


def _alert(row) -> Alert:
    return Alert(row["id"], row["name"], row["scope"], row["target"], row["period"],
                 float(row["threshold_usd"]), row["webhook_url"])


# ---------------------------------------------------------------- storage

_SPEND = """
SELECT a.*, coalesce((
         SELECT sum(t.cost_usd) FROM gateway_traces t
          WHERE t.created_at >= CASE a.period WHEN 'day' THEN $1::timestamptz
                                              ELSE $2::timestamptz END
            AND (a.scope = 'total'
                 OR (a.scope = 'key' AND t.key_id::text = a.target)
                 OR (a.scope = 'app' AND t.application = a.target))), 0) AS spent_usd,
       EXISTS (SELECT 1 FROM gateway_alert_firings f
                WHERE f.alert_id = a.id
                  AND f.period_start = CASE a.period WHEN 'day' THEN $1::date
                                                     ELSE $2::date END) AS fired
  FROM gateway_alerts a
"""


async def create_alert(pool, *, scope: str, period: str, threshold_usd: float,
                       target: str | None = None, name: str | None = None,
                       webhook_url: str | None = None) -> Alert:
    row = await pool.fetchrow(
        """INSERT INTO gateway_alerts (id, name, scope, target, period, threshold_usd,
                                       webhook_url)
           VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *""",
        uuid.uuid4(), name, scope, target, period, Decimal(str(threshold_usd)), webhook_url)
    return _alert(row)


async def delete_alert(pool, alert_id: uuid.UUID) -> bool:
    return (await pool.execute("DELETE FROM gateway_alerts WHERE id = $1",
                               alert_id)).endswith("1")


async def list_alerts(pool, now: datetime | None = None) -> list[dict[str, Any]]:
    """Every alert with its spend so far in the current period and whether it fired."""
    now = now or datetime.now(UTC)
    rows = await pool.fetch(_SPEND + " ORDER BY a.created_at",
                            period_start_ts(period_start("day", now)),
                            period_start_ts(period_start("month", now)))
    return [{"id": str(r["id"]), "name": r["name"], "scope": r["scope"], "target": r["target"],
             "period": r["period"], "threshold_usd": float(r["threshold_usd"]),
             "webhook_url": r["webhook_url"], "created_at": r["created_at"].isoformat(),
             "current_period_start": period_start(r["period"], now).isoformat(),
             "spent_usd": float(r["spent_usd"]), "fired": r["fired"]} for r in rows]


async def list_firings(pool, alert_id: uuid.UUID | None = None,
                       limit: int = 100) -> list[dict[str, Any]]:
    rows = await pool.fetch(
        """SELECT f.*, a.name, a.scope, a.target, a.period FROM gateway_alert_firings f
             JOIN gateway_alerts a ON a.id = f.alert_id
            WHERE $1::uuid IS NULL OR f.alert_id = $1
            ORDER BY f.fired_at DESC LIMIT $2""", alert_id, limit)
    return [{"alert_id": str(r["alert_id"]), "name": r["name"], "scope": r["scope"],
             "target": r["target"], "period": r["period"],
             "period_start": r["period_start"].isoformat(),
             "fired_at": r["fired_at"].isoformat(), "spent_usd": float(r["spent_usd"]),
             "threshold_usd": None if r["threshold_usd"] is None else float(r["threshold_usd"]),
             "event_recorded": r["event_recorded"], "delivered": r["delivered"],
             "attempts": r["attempts"], "last_error": r["last_error"]} for r in rows]


# ---------------------------------------------------------------- the monitor


class AlertMonitor:
    """Checks thresholds in the background; ``poke()`` asks for a check soon."""

    def __init__(self, pool, commands, *, default_webhook: str | None = None,
                 interval_s: float = 15.0, timeout_s: float = 5.0) -> None:
        self.pool = pool
        self.commands = commands
        self.default_webhook = default_webhook
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._client: httpx.AsyncClient | None = None
        self._idle = asyncio.Event()
        self._idle.set()

    def start(self) -> None:
        if self._task is None:
            self._client = httpx.AsyncClient(timeout=self.timeout_s)
            self._task = asyncio.get_running_loop().create_task(self._run(),
                                                                name="cost-alerts")

    def poke(self) -> None:
        self._idle.clear()
        self._wake.set()

    async def on_batch(self, _batch) -> None:
        """TraceWriter listener: spend changed."""
        self.poke()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def settled(self, timeout_s: float = 10.0) -> None:
        """Wait until the checks asked for so far have run (for tests and shutdown)."""
        await asyncio.wait_for(self._idle.wait(), timeout_s)

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval_s)
            self._wake.clear()
            try:
                await self.check()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - try again at the next check
                log.error("alert_check_failed", error=str(exc))
            if not self._wake.is_set():
                self._idle.set()

    async def check(self, now: datetime | None = None) -> list[dict[str, Any]]:
        """Fire every alert over its threshold that has not fired this period, then retry
        pending deliveries. Returns the firings this call claimed."""
        now = now or datetime.now(UTC)
        rows = await self.pool.fetch(
            _SPEND + " WHERE NOT EXISTS (SELECT 1 FROM gateway_alert_firings f "
            "WHERE f.alert_id = a.id AND f.period_start = CASE a.period WHEN 'day' "
            "THEN $1::date ELSE $2::date END)",
            period_start_ts(period_start("day", now)),
            period_start_ts(period_start("month", now)))
        claimed = []
        for r in rows:
            spent = float(r["spent_usd"])
            if spent < float(r["threshold_usd"]):
                continue
            alert = _alert(r)
            start = period_start(alert.period, now)
            won = await self.pool.fetchval(
                """INSERT INTO gateway_alert_firings (alert_id, period_start, spent_usd,
                                                      threshold_usd, fired_at)
                   VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING alert_id""",
                alert.id, start, Decimal(repr(spent)), Decimal(str(alert.threshold_usd)), now)
            if won is None:
                continue  # another process fired it first
            log.warning("cost_alert_fired", alert_id=str(alert.id), scope=alert.scope,
                        target=alert.target, period=alert.period, spent_usd=spent,
                        threshold_usd=alert.threshold_usd)
            claimed.append({"alert_id": str(alert.id), "period_start": start.isoformat(),
                            "spent_usd": spent})
        await self.process_pending()
        return claimed

    async def process_pending(self) -> None:
        """Record the event of, and deliver, every firing not done yet whose turn it is."""
        rows = await self.pool.fetch(
            """SELECT f.*, a.name, a.scope, a.target, a.period, a.webhook_url,
                      a.threshold_usd AS alert_threshold
                 FROM gateway_alert_firings f JOIN gateway_alerts a ON a.id = f.alert_id
                WHERE (NOT f.event_recorded
                       OR (NOT f.delivered AND coalesce(a.webhook_url, $1) IS NOT NULL
                           AND f.attempts < $2 AND f.next_attempt_at <= now()))
                ORDER BY f.fired_at""", self.default_webhook, MAX_ATTEMPTS)
        for r in rows:
            alert = Alert(r["alert_id"], r["name"], r["scope"], r["target"], r["period"],
                          float(r["threshold_usd"] if r["threshold_usd"] is not None
                                else r["alert_threshold"]), r["webhook_url"])
            spent = float(r["spent_usd"])
            if not r["event_recorded"]:
                await self._record(alert, r["period_start"], spent, r["fired_at"])
            url = alert.webhook_url or self.default_webhook
            if not r["delivered"] and url:
                await self._deliver(alert, r["period_start"], spent, url)

    async def _record(self, alert: Alert, start: date, spent: float,
                      fired_at: datetime) -> None:
        event = CostAlertFired(alert_id=str(alert.id), name=alert.name, scope=alert.scope,
                               target=alert.target, period=alert.period,
                               period_start=start.isoformat(),
                               threshold_usd=alert.threshold_usd, spent_usd=spent,
                               fired_at=fired_at.astimezone(UTC).isoformat())
        await self.commands.record_facts(
            streams.alert(str(alert.id)), [event],
            [alert_fired_event_id(str(alert.id), start.isoformat())],
            EventMetadata(actor="gateway"))
        await self.pool.execute(
            "UPDATE gateway_alert_firings SET event_recorded = true "
            "WHERE alert_id = $1 AND period_start = $2", alert.id, start)

    async def _deliver(self, alert: Alert, start: date, spent: float, url: str) -> None:
        # claim this attempt: a concurrent checker sees next_attempt_at in the future
        attempt = await self.pool.fetchval(
            """UPDATE gateway_alert_firings
                  SET attempts = attempts + 1,
                      next_attempt_at = now() + make_interval(secs => $3)
                WHERE alert_id = $1 AND period_start = $2 AND NOT delivered
                  AND next_attempt_at <= now()
            RETURNING attempts""", alert.id, start, 60.0)
        if attempt is None:
            return
        client = self._client or httpx.AsyncClient(timeout=self.timeout_s)
        error = None
        try:
            r = await client.post(url, json={"text": alert.message(spent, start)})
            if r.status_code >= 300:
                error = f"webhook answered {r.status_code}: {r.text[:200]}"
        except httpx.HTTPError as exc:
            error = f"webhook failed: {type(exc).__name__}: {exc}"[:500]
        finally:
            if client is not self._client:
                await client.aclose()
        if error is None:
            await self.pool.execute(
                "UPDATE gateway_alert_firings SET delivered = true, last_error = NULL "
                "WHERE alert_id = $1 AND period_start = $2", alert.id, start)
            return
        log.warning("cost_alert_webhook_failed", alert_id=str(alert.id), attempt=attempt,
                    error=error)
        await self.pool.execute(
            """UPDATE gateway_alert_firings
                  SET last_error = $3, next_attempt_at = now() + make_interval(secs => $4)
                WHERE alert_id = $1 AND period_start = $2""",
            alert.id, start, error, retry_delay_s(attempt))
