"""Reads of score alerts: each with its rolling mean now, and their firings with how the
delivery went. The rolling mean (``STATS``) is shared with the monitor that fires them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import asyncpg

from ...domain.errors import NotFound
from ...domain.score_alerts import Definition, ScoreAlertState, period_start

_COLS = ("a.id, a.name, a.score_name, a.evaluator_id, a.source, a.prompt_id, "
         "a.prompt_version, a.model, a.window_minutes, a.min_scores, a.threshold, a.period, "
         "a.created_at, a.created_by")

# Every alert (or those listed in $2) with the mean and count of its score over its window ending at
# $1. A filter on prompt or model reads the scored trace's row; none reads no trace.
STATS = f"""
SELECT {_COLS}, w.url AS webhook_url, s.mean, coalesce(s.n, 0) AS n
  FROM score_alerts a
  LEFT JOIN score_alert_webhooks w ON w.alert_id = a.id
  LEFT JOIN LATERAL (
        SELECT avg(sc.value) AS mean, count(*) AS n
          FROM trace_scores sc
         WHERE sc.name = a.score_name
           AND sc.scored_at > $1::timestamptz - make_interval(mins => a.window_minutes)
           AND sc.scored_at <= $1::timestamptz
           AND (a.source IS NULL OR sc.source = a.source)
           AND (a.evaluator_id IS NULL OR sc.actor = 'evaluator:' || a.evaluator_id)
           AND (a.prompt_id IS NULL AND a.model IS NULL OR EXISTS (
                SELECT 1 FROM gateway_traces t
                 WHERE t.id = sc.trace_id
                   AND (a.prompt_id IS NULL OR t.prompt_id = a.prompt_id)
                   AND (a.prompt_version IS NULL OR t.prompt_version = a.prompt_version)
                   AND (a.model IS NULL
                        OR coalesce(t.model_answered, t.model_requested) = a.model)))
       ) s ON true
 WHERE $2::text[] IS NULL OR a.id = ANY($2::text[])
"""


def definition(row: asyncpg.Record) -> Definition:
    return Definition(score_name=row["score_name"], threshold=row["threshold"],
                      name=row["name"], evaluator_id=row["evaluator_id"],
                      source=row["source"], prompt_id=row["prompt_id"],
                      prompt_version=row["prompt_version"], model=row["model"],
                      window_minutes=row["window_minutes"], min_scores=row["min_scores"],
                      period=row["period"])


def webhook_shown(url: str | None) -> str | None:
    """Where an alert posts, without the path and query (they often hold a token)."""
    if not url:
        return None
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}/…"


def _out(r: asyncpg.Record, fired: set[tuple[str, datetime]], now: datetime
         ) -> dict[str, Any]:
    start = period_start(r["period"], now)
    mean = None if r["mean"] is None else float(r["mean"])
    return {"id": r["id"], "name": r["name"], "score_name": r["score_name"],
            "evaluator_id": r["evaluator_id"], "source": r["source"],
            "prompt_id": r["prompt_id"], "prompt_version": r["prompt_version"],
            "model": r["model"], "window_minutes": r["window_minutes"],
            "min_scores": r["min_scores"], "threshold": r["threshold"],
            "period": r["period"], "webhook": webhook_shown(r["webhook_url"]),
            "created_at": r["created_at"], "created_by": r["created_by"],
            "current": {"mean": mean, "count": r["n"],
                        "below": mean is not None and r["n"] >= r["min_scores"]
                        and mean < r["threshold"],
                        "period_start": start, "fired": (r["id"], start) in fired}}


async def _fired(pool: asyncpg.Pool, now: datetime) -> set[tuple[str, datetime]]:
    rows = await pool.fetch("SELECT alert_id, period_start FROM score_alert_firings "
                            "WHERE period_start >= $1", period_start("day", now))
    return {(r["alert_id"], r["period_start"]) for r in rows}


async def list_alerts(pool: asyncpg.Pool, now: datetime | None = None
                      ) -> list[dict[str, Any]]:
    now = now or datetime.now(UTC)
    rows = await pool.fetch(STATS + " ORDER BY a.created_at, a.id", now, None)
    fired = await _fired(pool, now)
    return [_out(r, fired, now) for r in rows]


async def get_alert(pool: asyncpg.Pool, alert_id: str, now: datetime | None = None
                    ) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    row = await pool.fetchrow(STATS, now, [alert_id])
    if row is None:
        raise NotFound(f"score alert {alert_id} not found")
    return _out(row, await _fired(pool, now), now)


async def alert_state(conn: asyncpg.Connection, alert_id: str) -> ScoreAlertState:
    found = await conn.fetchval("SELECT 1 FROM score_alerts WHERE id = $1", alert_id)
    return ScoreAlertState(alert_id=alert_id if found else None)


async def list_firings(pool: asyncpg.Pool, alert_id: str | None = None, limit: int = 100
                       ) -> list[dict[str, Any]]:
    """Firings, newest first, with their delivery (``delivered``, ``attempts``,
    ``last_error``); a deleted alert's firings stay listed."""
    rows = await pool.fetch(
        "SELECT f.*, a.name, a.score_name, a.period, d.attempts, d.delivered_at, "
        "d.last_status, d.last_error FROM score_alert_firings f "
        "LEFT JOIN score_alerts a ON a.id = f.alert_id "
        "LEFT JOIN score_alert_deliveries d ON d.alert_id = f.alert_id "
        "AND d.period_start = f.period_start "
        "WHERE $1::text IS NULL OR f.alert_id = $1 ORDER BY f.fired_at DESC LIMIT $2",
        alert_id, limit)
    return [{"alert_id": r["alert_id"], "name": r["name"], "score_name": r["score_name"],
             "period": r["period"], "period_start": r["period_start"],
             "fired_at": r["fired_at"], "mean": r["mean"], "count": r["count"],
             "threshold": r["threshold"], "window_minutes": r["window_minutes"],
             "delivered": r["delivered_at"] is not None, "delivered_at": r["delivered_at"],
             "attempts": r["attempts"] or 0, "last_status": r["last_status"],
             "last_error": r["last_error"]} for r in rows]
