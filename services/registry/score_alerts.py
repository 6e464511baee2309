"""The score-alert monitor: one of the registry's background loops.

A check computes every alert's rolling mean (``read.queries.score_alerts.STATS``) and asks
the domain whether it fires (``domain.score_alerts.firing``). A firing is recorded as
``ScoreAlertFired`` with an id derived from the alert and the period, so however many
registry processes check at once, the store keeps one and only the process that stored it
counts it as new. Then every firing not delivered yet is posted to its webhook (or
``HARNESS_SCORE_ALERT_WEBHOOK``) as Slack-compatible ``{"text": ...}``, through the same
guarded sender as webhooks (no redirects; private addresses only where allowed). Each
attempt is claimed in ``score_alert_deliveries`` (``next_attempt_at``) before it is made,
and a failed one retried with backoff, up to ``MAX_ATTEMPTS``.

Checks run when a score is recorded in this process (the commit hook on ``trace-<id>``
streams: people's scores and the scorer's, which the registry ingests) and every
``HARNESS_SCORE_ALERT_CHECK_S`` (a window also moves with time alone), at most one check a
``min_gap_s``; an alert that fired this period costs no rolling mean until the next.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import UTC, datetime
from typing import Any

import asyncpg
import structlog

from harness.config import get_settings
from harness.events import EventMetadata, streams

from .domain import score_alerts as domain
from .read.queries.score_alerts import STATS, definition
from .webhooks import sender
from .webhooks.settings import DeliverySettings

log = structlog.get_logger(__name__)


class ScoreAlertMonitor:
    def __init__(self, pool: asyncpg.Pool, commands, *, interval_s: float | None = None,
                 default_webhook: str | None = None, min_gap_s: float = 1.0) -> None:
        self.pool = pool
        self.min_gap_s = min_gap_s  # scores arriving by the hundred cost one check a second
        self.commands = commands
        self.interval_s = interval_s
        self.default_webhook = default_webhook
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._stop = False

    # ------------------------------------------------------------ the loop

    def poke(self) -> None:
        """Check soon (a score was recorded)."""
        self._idle.clear()
        self._wake.set()

    def on_commit(self, stream_id: str) -> None:
        """The command handler's commit hook: a trace's stream got a score."""
        if streams.category(stream_id) == streams.TRACE:
            self.poke()

    def stop(self) -> None:
        self._stop = True
        self._wake.set()

    async def settled(self, timeout_s: float = 60.0) -> None:
        """Wait until the checks asked for so far have run (tests and shutdown)."""
        await asyncio.wait_for(self._idle.wait(), timeout_s)

    async def run(self) -> None:
        http = sender.client()
        loop = asyncio.get_running_loop()
        last = -self.min_gap_s
        try:
            while not self._stop:
                interval = self.interval_s or get_settings().score_alert_check_s
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), interval)
                if self._stop:
                    break
                await asyncio.sleep(max(0.0, self.min_gap_s - (loop.time() - last)))
                self._wake.clear()  # pokes until now are answered by this check
                last = loop.time()
                try:
                    await self.check(http=http)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # noqa: BLE001 - try again at the next check
                    log.error("score_alert_check_failed", error=str(exc))
                if not self._wake.is_set():
                    self._idle.set()
        finally:
            self._idle.set()
            await http.aclose()

    # ------------------------------------------------------------ one check

    async def check(self, now: datetime | None = None, http=None) -> list[dict[str, Any]]:
        """Fire every alert whose mean is below its threshold and that has not fired this
        period, then deliver what is due. Returns the firings this call recorded."""
        now = now or datetime.now(UTC)
        recorded = []
        # only alerts that have not fired this period cost a rolling mean
        due = await self.pool.fetchval(
            "SELECT coalesce(array_agg(a.id), '{}') FROM score_alerts a WHERE NOT EXISTS "
            "(SELECT 1 FROM score_alert_firings f WHERE f.alert_id = a.id AND f.period_start "
            "= CASE a.period WHEN 'hour' THEN $1::timestamptz ELSE $2::timestamptz END)",
            domain.period_start("hour", now), domain.period_start("day", now))
        for row in await self.pool.fetch(STATS, now, due) if due else []:
            d = definition(row)
            mean = None if row["mean"] is None else float(row["mean"])
            fired = domain.firing(row["id"], d, mean, row["n"], now)
            if fired is None:
                continue
            start = domain.period_start(d.period, now)
            stored = await self.commands.record_facts(
                streams.score_alert(row["id"]), [fired],
                [domain.fired_event_id(row["id"], start)],
                EventMetadata(actor="score-alerts"))
            if stored:  # this process recorded it; another may have been first
                log.warning("score_alert_fired", alert_id=row["id"], score=d.score_name,
                            mean=mean, count=row["n"], threshold=d.threshold)
                recorded.append({"alert_id": row["id"], "period_start": start.isoformat(),
                                 "mean": mean, "count": row["n"]})
        await self.deliver_pending(http=http)
        return recorded

    async def deliver_pending(self, http=None) -> int:
        """Post every undelivered firing whose turn it is; how many were delivered."""
        default = self.default_webhook or get_settings().score_alert_webhook
        rows = await self.pool.fetch(
            """SELECT f.*, a.name, a.score_name, a.evaluator_id, a.source, a.prompt_id,
                      a.prompt_version, a.model, a.min_scores, a.period,
                      coalesce(w.url, $1) AS url
                 FROM score_alert_firings f
                 JOIN score_alerts a ON a.id = f.alert_id
                 LEFT JOIN score_alert_webhooks w ON w.alert_id = f.alert_id
                 LEFT JOIN score_alert_deliveries d ON d.alert_id = f.alert_id
                                                   AND d.period_start = f.period_start
                WHERE coalesce(w.url, $1) IS NOT NULL
                  AND (d.alert_id IS NULL OR (d.delivered_at IS NULL AND d.attempts < $2
                                              AND d.next_attempt_at <= now()))
                ORDER BY f.fired_at""", default, domain.MAX_ATTEMPTS)
        if not rows:
            return 0
        own = http is None
        http = http or sender.client()
        delivered = 0
        try:
            for r in rows:
                delivered += await self._deliver(http, r)
        finally:
            if own:
                await http.aclose()
        return delivered

    async def _deliver(self, http, r: asyncpg.Record) -> int:
        settings = DeliverySettings.current()
        await self.pool.execute(
            "INSERT INTO score_alert_deliveries (alert_id, period_start) VALUES ($1, $2) "
            "ON CONFLICT DO NOTHING", r["alert_id"], r["period_start"])
        # claim this attempt: a concurrent checker sees next_attempt_at in the future
        attempt = await self.pool.fetchval(
            """UPDATE score_alert_deliveries
                  SET attempts = attempts + 1,
                      next_attempt_at = now() + make_interval(secs => $3)
                WHERE alert_id = $1 AND period_start = $2 AND delivered_at IS NULL
                  AND next_attempt_at <= now()
            RETURNING attempts""", r["alert_id"], r["period_start"], settings.lease_s)
        if attempt is None:
            return 0
        d = domain.Definition(score_name=r["score_name"], threshold=r["threshold"],
                              name=r["name"], evaluator_id=r["evaluator_id"],
                              source=r["source"], prompt_id=r["prompt_id"],
                              prompt_version=r["prompt_version"], model=r["model"],
                              window_minutes=r["window_minutes"], min_scores=r["min_scores"],
                              period=r["period"])
        fired = domain.ScoreAlertFired(
            alert_id=r["alert_id"], name=r["name"], score_name=r["score_name"],
            period=r["period"], period_start=r["period_start"].astimezone(UTC).isoformat(),
            mean=r["mean"], count=r["count"], threshold=r["threshold"],
            window_minutes=r["window_minutes"],
            fired_at=r["fired_at"].astimezone(UTC).isoformat())
        body = json.dumps({"text": domain.message(d, fired)}).encode()
        outcome = await sender.post(http, r["url"], body, {}, settings.allowed_networks,
                                    settings.timeout_s)
        if outcome.error is None:
            await self.pool.execute(
                "UPDATE score_alert_deliveries SET delivered_at = now(), last_status = $3, "
                "last_error = NULL WHERE alert_id = $1 AND period_start = $2",
                r["alert_id"], r["period_start"], outcome.status_code)
            return 1
        log.warning("score_alert_webhook_failed", alert_id=r["alert_id"], attempt=attempt,
                    error=outcome.error)
        await self.pool.execute(
            """UPDATE score_alert_deliveries
                  SET last_status = $3, last_error = $4,
                      next_attempt_at = now() + make_interval(secs => $5)
                WHERE alert_id = $1 AND period_start = $2""",
            r["alert_id"], r["period_start"], outcome.status_code, outcome.error,
            domain.retry_delay_s(attempt))
        return 0
