"""Read models of score alerts (listed in :mod:`.catalog`): one row per alert that is not
deleted, and one per firing (alert and period). The webhook URL and the delivery log are
kept beside them (``score_alert_webhooks``, ``score_alert_deliveries``): not read models."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from harness.events import StoredEvent
from harness.events.score_alert_events import (
    ScoreAlertCreated,
    ScoreAlertDeleted,
    ScoreAlertFired,
)

from .projection import Projection


async def _created(conn, ev: StoredEvent) -> None:
    d = ScoreAlertCreated.model_validate(ev.data)
    await conn.execute(
        "INSERT INTO score_alerts (id, name, score_name, evaluator_id, source, prompt_id, "
        "prompt_version, model, window_minutes, min_scores, threshold, period, created_at, "
        "created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        d.alert_id, d.name, d.score_name, d.evaluator_id, d.source, d.prompt_id,
        d.prompt_version, d.model, d.window_minutes, d.min_scores, d.threshold, d.period,
        ev.recorded_at, ev.metadata.actor)


async def _deleted(conn, ev: StoredEvent) -> None:
    await conn.execute("DELETE FROM score_alerts WHERE id = $1", ev.data["alert_id"])


async def _fired(conn, ev: StoredEvent) -> None:
    d = ScoreAlertFired.model_validate(ev.data)
    await conn.execute(
        "INSERT INTO score_alert_firings (alert_id, period_start, mean, count, threshold, "
        "window_minutes, fired_at) VALUES ($1, $2, $3, $4, $5, $6, $7) "
        "ON CONFLICT (alert_id, period_start) DO NOTHING",
        d.alert_id, datetime.fromisoformat(d.period_start), d.mean, d.count, d.threshold,
        d.window_minutes, datetime.fromisoformat(d.fired_at))


_HANDLERS = {
    ScoreAlertCreated.TYPE: _created,
    ScoreAlertDeleted.TYPE: _deleted,
    ScoreAlertFired.TYPE: _fired,
}


async def apply(conn: asyncpg.Connection, ev: StoredEvent) -> None:
    await _HANDLERS[ev.type](conn, ev)


PROJECTION = Projection(
    name="score_alerts",
    types=frozenset(_HANDLERS),
    apply=apply,
    tables=("score_alerts", "score_alert_firings"),
)
