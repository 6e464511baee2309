"""Read model of online evaluators (listed in :mod:`.catalog`): one row per evaluator, its
current definition and status."""

from __future__ import annotations

import asyncpg

from harness.events import StoredEvent
from harness.events.evaluator_events import (
    EvaluatorChanged,
    EvaluatorCreated,
    EvaluatorPaused,
    EvaluatorResumed,
)

from .projection import Projection


async def _created(conn, ev: StoredEvent) -> None:
    d = EvaluatorCreated.model_validate(ev.data)
    await conn.execute(
        "INSERT INTO evaluators (id, name, description, assertion, metric, traffic, "
        "sampling_rate, judge_model, human_score, created_at, created_by, updated_at) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $10)",
        d.evaluator_id, d.name, d.description, d.assertion, d.metric, d.traffic,
        d.sampling_rate, d.judge_model, d.human_score, ev.recorded_at, ev.metadata.actor)


async def _changed(conn, ev: StoredEvent) -> None:
    d = EvaluatorChanged.model_validate(ev.data)
    await conn.execute(
        "UPDATE evaluators SET name = $2, description = $3, assertion = $4, metric = $5, "
        "traffic = $6, sampling_rate = $7, judge_model = $8, updated_at = $9, "
        "human_score = $10 WHERE id = $1",
        d.evaluator_id, d.name, d.description, d.assertion, d.metric, d.traffic,
        d.sampling_rate, d.judge_model, ev.recorded_at, d.human_score)


def _status(status: str):
    async def apply(conn, ev: StoredEvent) -> None:
        await conn.execute("UPDATE evaluators SET status = $2, updated_at = $3 WHERE id = $1",
                           ev.data["evaluator_id"], status, ev.recorded_at)
    return apply


_HANDLERS = {
    EvaluatorCreated.TYPE: _created,
    EvaluatorChanged.TYPE: _changed,
    EvaluatorPaused.TYPE: _status("paused"),
    EvaluatorResumed.TYPE: _status("active"),
}


async def apply(conn: asyncpg.Connection, ev: StoredEvent) -> None:
    await _HANDLERS[ev.type](conn, ev)


PROJECTION = Projection(
    name="evaluators",
    types=frozenset(_HANDLERS),
    apply=apply,
    tables=("evaluators",),
)
