"""Reads of online evaluators, and the state a change is decided on."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from ...domain.agreement import Pair
from ...domain.agreement import agreement as agreement_of
from ...domain.errors import Invalid, NotFound
from ...domain.evaluators import Definition, EvaluatorState

_COLS = ("id, name, description, assertion, metric, traffic, sampling_rate, judge_model, "
         "human_score, status, created_at, created_by, updated_at")


# what each evaluator scored in the last 24 hours (its scores are under its current name)
_WITH_ACTIVITY = (
    "SELECT " + ", ".join(f"e.{c.strip()}" for c in _COLS.split(",")) + ", a.n, a.mean "
    "FROM evaluators e LEFT JOIN LATERAL (SELECT count(*) AS n, avg(s.value) AS mean "
    "FROM trace_scores s WHERE s.name = e.name AND s.source = 'evaluator' "
    "AND s.actor = 'evaluator:' || e.id AND s.scored_at > now() - interval '24 hours') a "
    "ON true ")


def _with_activity(row: asyncpg.Record) -> dict[str, Any]:
    d = dict(row)
    n, mean = d.pop("n"), d.pop("mean")
    d["last_24h"] = {"scores": n or 0, "mean": None if mean is None else float(mean)}
    return d


async def list_evaluators(pool: asyncpg.Pool, status: str | None = None
                          ) -> list[dict[str, Any]]:
    rows = await pool.fetch(_WITH_ACTIVITY + "WHERE $1::text IS NULL OR e.status = $1 "
                            "ORDER BY e.name", status)
    return [_with_activity(r) for r in rows]


async def get_evaluator(pool: asyncpg.Pool, evaluator_id: str) -> dict[str, Any]:
    row = await pool.fetchrow(_WITH_ACTIVITY + "WHERE e.id = $1", evaluator_id)
    if row is None:
        raise NotFound(f"evaluator {evaluator_id} not found")
    return _with_activity(row)


async def evaluator_state(conn: asyncpg.Connection, evaluator_id: str) -> EvaluatorState:
    row = await conn.fetchrow(f"SELECT {_COLS} FROM evaluators WHERE id = $1", evaluator_id)
    if row is None:
        return EvaluatorState()
    return EvaluatorState(evaluator_id=row["id"], status=row["status"], definition=Definition(
        name=row["name"], assertion=row["assertion"], metric=row["metric"],
        traffic=dict(row["traffic"]), sampling_rate=row["sampling_rate"],
        judge_model=row["judge_model"], description=row["description"],
        human_score=row["human_score"]))


# one pair per trace and person: each person's score of the reference name beside the
# evaluator's latest score of that trace (driven by the people's scores, the fewer)
_PAIRS = """
SELECT h.trace_id, j.value AS judge_value, j.label AS judge_label, h.value AS human_value,
       h.label AS human_label
  FROM trace_scores h
  JOIN LATERAL (SELECT value, label FROM trace_scores e
                 WHERE e.trace_id = h.trace_id AND e.source = 'evaluator'
                   AND e.actor = 'evaluator:' || $1
                 ORDER BY e.scored_at DESC LIMIT 1) j ON true
 WHERE h.source = 'human' AND h.name = $2
   AND ($3::timestamptz IS NULL OR h.scored_at >= $3)
"""


async def agreement(pool: asyncpg.Pool, evaluator_id: str, human_score: str | None,
                    since: datetime | None = None) -> dict[str, Any]:
    """How the evaluator's scores agree with people's ``human_score`` (default: the one
    set on the evaluator) on the traces both scored (:mod:`...domain.agreement`); with
    ``since``, only people's scores given from then on."""
    ev = await get_evaluator(pool, evaluator_id)
    name = human_score or ev["human_score"]
    if not name:
        raise Invalid("human_score: name the people's score to compare with (or set "
                      "human_score on the evaluator)", field="human_score")
    data_type = await pool.fetchval("SELECT data_type FROM score_configs WHERE name = $1",
                                    name)
    if data_type is None:
        raise Invalid(f"human_score: no score config named {name!r}", field="human_score")
    rows = await pool.fetch(_PAIRS, evaluator_id, name, since)
    pairs = [Pair(r["judge_value"], r["judge_label"], r["human_value"], r["human_label"])
             for r in rows]
    traces = len({r["trace_id"] for r in rows})
    return {"evaluator_id": evaluator_id, "evaluator": ev["name"], "human_score": name,
            "traces": traces, **agreement_of(data_type, pairs)}
