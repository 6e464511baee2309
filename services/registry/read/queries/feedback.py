"""Reads of human judgement: score configs, and the scores of a trace."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from ...domain.errors import NotFound

_CONFIG_COLS = ("id, name, data_type, min_value, max_value, categories, description, "
                "created_at, created_by")
_SCORE_COLS = "name, data_type, value, label, comment, source, actor, config_id, scored_at"


def _score(row: asyncpg.Record) -> dict[str, Any]:
    d = dict(row)
    d["actor"] = d["actor"] or None
    return d


async def list_configs(pool: asyncpg.Pool) -> list[dict[str, Any]]:
    rows = await pool.fetch(f"SELECT {_CONFIG_COLS} FROM score_configs ORDER BY name")
    return [dict(r) for r in rows]


async def get_config(pool: asyncpg.Pool, config_id: str) -> dict[str, Any]:
    row = await pool.fetchrow(f"SELECT {_CONFIG_COLS} FROM score_configs WHERE id = $1",
                              config_id)
    if row is None:
        raise NotFound(f"score config {config_id} not found")
    return dict(row)


async def trace_scores(pool: asyncpg.Pool, trace_id: uuid.UUID) -> list[dict[str, Any]]:
    """Every score of the trace (each person's latest per name), by name then time."""
    rows = await pool.fetch(f"SELECT {_SCORE_COLS} FROM trace_scores WHERE trace_id = $1 "
                            "ORDER BY name, scored_at", trace_id)
    return [_score(r) for r in rows]


async def trace_score(pool: asyncpg.Pool, trace_id: uuid.UUID, name: str, source: str,
                      actor: str | None) -> dict[str, Any]:
    row = await pool.fetchrow(
        f"SELECT {_SCORE_COLS} FROM trace_scores WHERE trace_id = $1 AND name = $2 "
        "AND source = $3 AND actor = $4", trace_id, name, source, actor or "")
    return _score(row)


async def result_scores(pool: asyncpg.Pool, run_id: str, result_id: uuid.UUID
                        ) -> list[dict[str, Any]]:
    """The human scores of one result (each person's latest per name)."""
    rows = await pool.fetch(
        f"SELECT {', '.join('f.' + c.strip() for c in _SCORE_COLS.split(','))} "
        "FROM result_feedback f JOIN run_results r ON r.run_id = f.run_id "
        "AND r.case_id = f.case_id AND r.target_id = f.target_id AND r.repeat = f.repeat "
        "WHERE r.run_id = $1 AND r.result_id = $2 ORDER BY f.name, f.scored_at",
        run_id, result_id)
    return [_score(r) for r in rows]
