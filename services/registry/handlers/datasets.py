"""Datasets: create, change, add / edit / remove cases, verify, review generated cases,
promote reviewed cases into a golden dataset.

The aggregate's state is small (counts, flags, the review status of the cases a command
names) and read from the read model under the stream's lock; cases live in events.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import asyncpg

from harness.events import EventMetadata, StoredEvent, streams

from ..commands import FromReadModel, pure
from ..domain import datasets as domain

if TYPE_CHECKING:
    from ..runtime import Runtime


def _aggregate(dataset_id: str, command) -> FromReadModel[domain.DatasetState]:
    """The dataset's state with what ``command`` asks about its cases."""
    case_id = getattr(command, "case_id", None)
    case_ids = list(getattr(command, "case_ids", None) or [])

    async def query(conn: asyncpg.Connection) -> domain.DatasetState:
        row = await conn.fetchrow(
            "SELECT id, name, dataset_type, is_verified, case_count FROM datasets "
            "WHERE id = $1", dataset_id)
        if row is None:
            return domain.DatasetState()
        exists = bool(case_id) and bool(await conn.fetchval(
            "SELECT 1 FROM test_cases WHERE id = $1 AND dataset_id = $2", case_id,
            dataset_id))
        cases = {}
        if case_ids:
            cases = {r["id"]: r["review_status"] for r in await conn.fetch(
                "SELECT id, review_status FROM test_cases WHERE dataset_id = $1 "
                "AND id = ANY($2::text[])", dataset_id, case_ids)}
        return domain.DatasetState(
            dataset_id=row["id"], name=row["name"], dataset_type=row["dataset_type"],
            is_verified=row["is_verified"], case_count=row["case_count"],
            case_exists=exists, cases=cases)

    return FromReadModel(query)


async def handle(rt: Runtime, dataset_id: str, command, metadata: EventMetadata,
                 ) -> list[StoredEvent]:
    _, stored = await rt.commands.execute(
        streams.dataset(dataset_id), _aggregate(dataset_id, command),
        pure(lambda state: domain.decide(command, state)), metadata)
    return stored
