"""Human judgement: define a score config; score a stored trace or a run's result.

A score is decided on its target's stream (``trace-<id>``, ``run-<id>``) under its lock,
with the config of its name and the target looked up there (configs never change once
defined); ``domain.feedback`` decides. Who scored is the event's actor (the API key).
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import asyncpg

from harness.events import EventMetadata, StoredEvent, streams
from harness.events.feedback_events import Category

from ..commands import FromReadModel
from ..domain import feedback as domain

if TYPE_CHECKING:
    from ..runtime import Runtime


def _nothing() -> FromReadModel[None]:
    async def query(_conn: asyncpg.Connection) -> None:
        return None

    return FromReadModel(query)


async def create_config(rt: Runtime, command: domain.CreateScoreConfig,
                        metadata: EventMetadata) -> list[StoredEvent]:
    async def decide(conn: asyncpg.Connection, _state: None):
        exists = bool(await conn.fetchval("SELECT 1 FROM score_configs WHERE id = $1",
                                          command.config_id))
        return domain.create_config(command, exists)

    _, stored = await rt.commands.execute(streams.score_config(command.config_id), _nothing(),
                                          decide, metadata)
    return stored


async def _config(conn: asyncpg.Connection, name: str) -> domain.ScoreConfig | None:
    row = await conn.fetchrow(
        "SELECT id, name, data_type, min_value, max_value, categories FROM score_configs "
        "WHERE name = $1", name)
    if row is None:
        return None
    return domain.ScoreConfig(
        config_id=row["id"], name=row["name"], data_type=row["data_type"],
        min_value=row["min_value"], max_value=row["max_value"],
        categories=tuple(Category.model_validate(c) for c in row["categories"]))


async def score_trace(rt: Runtime, trace_id: uuid.UUID, score: domain.Score,
                      metadata: EventMetadata) -> list[StoredEvent]:
    async def decide(conn: asyncpg.Connection, _state: None):
        stored = bool(await conn.fetchval(
            "SELECT 1 FROM gateway_traces WHERE id = $1 LIMIT 1", trace_id))
        facts = domain.TraceFacts(trace_exists=stored, config=await _config(conn, score.name))
        return domain.score_trace(str(trace_id), score, facts)

    _, events = await rt.commands.execute(streams.trace(str(trace_id)), _nothing(), decide,
                                          metadata)
    return events


async def score_result(rt: Runtime, run_id: str, result_id: uuid.UUID, score: domain.Score,
                       metadata: EventMetadata) -> list[StoredEvent]:
    async def decide(conn: asyncpg.Connection, _state: None):
        row = await conn.fetchrow(
            "SELECT case_id, target_id, repeat FROM run_results "
            "WHERE run_id = $1 AND result_id = $2", run_id, result_id)
        result = None if row is None else domain.ResultKey(row["case_id"], row["target_id"],
                                                           row["repeat"])
        facts = domain.ResultFacts(result=result, config=await _config(conn, score.name))
        return domain.score_result(run_id, str(result_id), score, facts)

    _, events = await rt.commands.execute(streams.run(run_id), _nothing(), decide, metadata)
    return events
