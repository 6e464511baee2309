"""Read models of human judgement (listed in :mod:`.catalog`): score configs, and the
scores of traces and of run results, one per target, name, source and actor (a later
score by the same person replaces theirs; the events keep every one)."""

from __future__ import annotations

import asyncpg

from harness.events import StoredEvent
from harness.events.feedback_events import ResultScored, ScoreConfigCreated, TraceScored

from .projection import Projection


async def _config_created(conn, ev: StoredEvent) -> None:
    d = ScoreConfigCreated.model_validate(ev.data)
    await conn.execute(
        "INSERT INTO score_configs (id, name, data_type, min_value, max_value, categories, "
        "description, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        d.score_config_id, d.name, d.data_type, d.min_value, d.max_value,
        [c.model_dump() for c in d.categories], d.description, ev.recorded_at,
        ev.metadata.actor)


def _scored_by(d: TraceScored, ev: StoredEvent) -> str:
    """A person (the event's actor) or an online evaluator (``evaluator:<id>``)."""
    if d.evaluator_id:
        return f"evaluator:{d.evaluator_id}"
    return ev.metadata.actor or ""


async def _trace_scored(conn, ev: StoredEvent) -> None:
    d = TraceScored.model_validate(ev.data)
    # the trace's recorded time (NULL when it is not stored): score filters of GET /traces
    # walk scores in trace time and read each trace from its day partition
    await conn.execute(
        "INSERT INTO trace_scores (trace_id, name, source, actor, data_type, value, label, "
        "comment, config_id, scored_at, trace_created_at) VALUES ($1, $2, $3, $4, $5, $6, "
        "$7, $8, $9, $10, (SELECT max(created_at) FROM gateway_traces WHERE id = $1)) "
        "ON CONFLICT (trace_id, name, source, actor) DO UPDATE SET data_type = $5, "
        "value = $6, label = $7, comment = $8, config_id = $9, scored_at = $10, "
        "trace_created_at = EXCLUDED.trace_created_at",
        d.trace_id, d.name, d.source, _scored_by(d, ev), d.data_type, d.value, d.label,
        d.comment, d.score_config_id, ev.recorded_at)


async def _result_scored(conn, ev: StoredEvent) -> None:
    d = ResultScored.model_validate(ev.data)
    await conn.execute(
        "INSERT INTO result_feedback (run_id, case_id, target_id, repeat, name, source, actor, "
        "data_type, value, label, comment, config_id, scored_at) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) "
        "ON CONFLICT (run_id, case_id, target_id, repeat, name, source, actor) DO UPDATE "
        "SET data_type = $8, value = $9, label = $10, comment = $11, config_id = $12, "
        "scored_at = $13",
        d.run_id, d.case_id, d.target_id, d.repeat, d.name, d.source,
        ev.metadata.actor or "", d.data_type, d.value, d.label, d.comment, d.score_config_id,
        ev.recorded_at)


_HANDLERS = {
    ScoreConfigCreated.TYPE: _config_created,
    TraceScored.TYPE: _trace_scored,
    ResultScored.TYPE: _result_scored,
}


async def apply(conn: asyncpg.Connection, ev: StoredEvent) -> None:
    await _HANDLERS[ev.type](conn, ev)


PROJECTION = Projection(
    name="feedback",
    types=frozenset(_HANDLERS),
    apply=apply,
    tables=("score_configs", "trace_scores", "result_feedback"),
)
