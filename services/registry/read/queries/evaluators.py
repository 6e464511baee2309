"""Reads of online evaluators, and the state a change is decided on."""

from __future__ import annotations

from typing import Any

import asyncpg

from ...domain.errors import NotFound
from ...domain.evaluators import Definition, EvaluatorState

_COLS = ("id, name, description, assertion, metric, traffic, sampling_rate, judge_model, "
         "status, created_at, created_by, updated_at")


async def list_evaluators(pool: asyncpg.Pool, status: str | None = None
                          ) -> list[dict[str, Any]]:
    rows = await pool.fetch(f"SELECT {_COLS} FROM evaluators WHERE $1::text IS NULL "
                            "OR status = $1 ORDER BY name", status)
    return [dict(r) for r in rows]


async def get_evaluator(pool: asyncpg.Pool, evaluator_id: str) -> dict[str, Any]:
    row = await pool.fetchrow(f"SELECT {_COLS} FROM evaluators WHERE id = $1", evaluator_id)
    if row is None:
        raise NotFound(f"evaluator {evaluator_id} not found")
    return dict(row)


async def evaluator_state(conn: asyncpg.Connection, evaluator_id: str) -> EvaluatorState:
    row = await conn.fetchrow(f"SELECT {_COLS} FROM evaluators WHERE id = $1", evaluator_id)
    if row is None:
        return EvaluatorState()
    return EvaluatorState(evaluator_id=row["id"], status=row["status"], definition=Definition(
        name=row["name"], assertion=row["assertion"], metric=row["metric"],
        traffic=dict(row["traffic"]), sampling_rate=row["sampling_rate"],
        judge_model=row["judge_model"], description=row["description"]))
