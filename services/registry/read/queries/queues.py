"""Reads of annotation queues: a queue with its progress, and the next item to review
with what a reviewer needs to judge it (the masked trace, or the result with its case)."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from ...domain.errors import NotFound
from ...domain.queues import QueueState, check_reviewer
from .feedback import trace_scores
from .scores import RESULT_WITH_SCORES
from .traces import get_trace

_QUEUE_COLS = ("id, name, description, score_names, reviewers, item_count, done_count, "
               "created_at, created_by")


def _queue(row: asyncpg.Record) -> dict[str, Any]:
    d = dict(row)
    d["pending"] = d["item_count"] - d["done_count"]
    d["progress"] = round(d["done_count"] / d["item_count"], 4) if d["item_count"] else 1.0
    return d


async def get_queue(pool: asyncpg.Pool, queue_id: str) -> dict[str, Any]:
    """The queue, its counts and how many items each reviewer completed."""
    row = await pool.fetchrow(f"SELECT {_QUEUE_COLS} FROM annotation_queues WHERE id = $1",
                              queue_id)
    if row is None:
        raise NotFound(f"queue {queue_id} not found")
    d = _queue(row)
    by = await pool.fetch(
        "SELECT completed_by, count(*) AS n FROM annotation_queue_items WHERE queue_id = $1 "
        "AND status = 'done' GROUP BY completed_by ORDER BY completed_by", queue_id)
    d["done_by"] = {r["completed_by"] or "": r["n"] for r in by}
    return d


async def list_queues(pool: asyncpg.Pool) -> list[dict[str, Any]]:
    rows = await pool.fetch(f"SELECT {_QUEUE_COLS} FROM annotation_queues ORDER BY name")
    return [_queue(r) for r in rows]


async def _trace(pool: asyncpg.Pool, trace_id: uuid.UUID) -> dict[str, Any] | None:
    row = await get_trace(pool, trace_id)
    if row is None:
        return None  # dropped with its partition after the retention
    d = dict(row)
    d["scores"] = await trace_scores(pool, trace_id)
    return d


async def _result(pool: asyncpg.Pool, run_id: str, result_id: uuid.UUID
                  ) -> dict[str, Any] | None:
    row = await pool.fetchrow(
        f"SELECT {RESULT_WITH_SCORES} AS result, c.input, c.expected_output "
        "FROM run_results r LEFT JOIN test_cases c ON c.id = r.case_id "
        "WHERE r.run_id = $1 AND r.result_id = $2", run_id, result_id)
    if row is None:
        return None
    return {**row["result"], "case": {"input": row["input"],
                                      "expected_output": row["expected_output"]}}


async def next_item(pool: asyncpg.Pool, queue_id: str, actor: str | None
                    ) -> dict[str, Any] | None:
    """The oldest pending item with what it points to (``trace`` or ``result``), for one
    of the queue's reviewers; ``None`` when every item is done."""
    queue = await get_queue(pool, queue_id)
    check_reviewer(QueueState(queue_id=queue_id, reviewers=tuple(queue["reviewers"])), actor)
    row = await pool.fetchrow(
        "SELECT item_id, kind, trace_id, run_id, result_id, position FROM "
        "annotation_queue_items WHERE queue_id = $1 AND status = 'pending' "
        "ORDER BY position LIMIT 1", queue_id)
    if row is None:
        return None
    item: dict[str, Any] = {"item_id": row["item_id"], "kind": row["kind"]}
    if row["kind"] == "trace":
        item["trace_id"] = str(row["trace_id"])
        item["trace"] = await _trace(pool, row["trace_id"])
    else:
        item.update(run_id=row["run_id"], result_id=str(row["result_id"]))
        item["result"] = await _result(pool, row["run_id"], row["result_id"])
    return {"queue": queue, "item": item}


async def traces_existing(pool: asyncpg.Pool, trace_ids: list[uuid.UUID]) -> set[uuid.UUID]:
    rows = await pool.fetch("SELECT DISTINCT id FROM gateway_traces WHERE id = ANY($1::uuid[])",
                            trace_ids)
    return {r["id"] for r in rows}


async def results_existing(pool: asyncpg.Pool, refs: list[tuple[str, uuid.UUID]]
                           ) -> set[tuple[str, uuid.UUID]]:
    rows = await pool.fetch(
        "SELECT r.run_id, r.result_id FROM run_results r JOIN unnest($1::text[], $2::uuid[]) "
        "AS w(run_id, result_id) ON r.run_id = w.run_id AND r.result_id = w.result_id",
        [r for r, _ in refs], [i for _, i in refs])
    return {(r["run_id"], r["result_id"]) for r in rows}


async def results_matching(pool: asyncpg.Pool, run_id: str, status: str | None,
                           target_id: str | None, *, limit: int
                           ) -> tuple[list[uuid.UUID], bool]:
    """The result ids of a run (in the results' order), filtered, at most ``limit``, and
    whether more matched."""
    rows = await pool.fetch(
        "SELECT result_id FROM run_results WHERE run_id = $1 "
        "AND ($2::text IS NULL OR status = $2) AND ($3::text IS NULL OR target_id = $3) "
        "ORDER BY case_id, target_id, repeat LIMIT $4", run_id, status, target_id, limit + 1)
    return [r["result_id"] for r in rows[:limit]], len(rows) > limit
