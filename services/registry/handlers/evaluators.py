"""Online evaluators: create one, change it, pause or resume it; decided by
``domain.evaluators`` on ``evaluator-<id>`` with its current definition read under the
stream's lock."""

from __future__ import annotations

from typing import TYPE_CHECKING

import asyncpg

from harness.events import EventMetadata, StoredEvent, streams

from ..commands import FromReadModel, pure
from ..domain import evaluators as domain
from ..read.queries.evaluators import evaluator_state

if TYPE_CHECKING:
    from ..runtime import Runtime


def _aggregate(evaluator_id: str) -> FromReadModel[domain.EvaluatorState]:
    async def query(conn: asyncpg.Connection) -> domain.EvaluatorState:
        return await evaluator_state(conn, evaluator_id)

    return FromReadModel(query)


async def handle(rt: Runtime, evaluator_id: str,
                 command: domain.CreateEvaluator | domain.ChangeEvaluator,
                 metadata: EventMetadata) -> list[StoredEvent]:
    _, stored = await rt.commands.execute(
        streams.evaluator(evaluator_id), _aggregate(evaluator_id),
        pure(lambda state: domain.decide(command, state)), metadata)
    return stored
