"""Datasets: create, change, add / edit / remove cases, verify, review generated cases,
promote reviewed cases into a golden dataset, make cases of stored traces.

The aggregate's state is small (counts, flags, the review status of the cases a command
names) and read from the read model under the stream's lock; cases live in events.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

import asyncpg

from harness.events import EventMetadata, StoredEvent, streams

from ..commands import FromReadModel, pure
from ..domain import datasets as domain
from ..domain.errors import Invalid
from ..domain.trace_cases import cases_from_traces, trace_id_of
from ..read.queries import datasets as dataset_queries
from ..read.queries.traces import TraceFilter, traces_by_id, traces_matching

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


# ---- traces become cases --------------------------------------------------------------
# The traces named (or the newest a filter selects, at most ``limit``) are read with their
# masked bodies, made into cases by the pure domain (``domain/trace_cases.py``) and added
# as the dataset's usual ``CasesAdded`` events (``source="traces"``).

@dataclass(frozen=True)
class TraceCases:
    """What became of the traces: the ids of the cases added, the traces skipped as
    already in the dataset, how many traces were taken and whether a filter matched more."""

    added: list[str]
    skipped_trace_ids: list[str]
    selected: int
    truncated: bool


async def add_cases_from_traces(rt: Runtime, dataset_id: str, metadata: EventMetadata, *,
                                trace_ids: list[uuid.UUID] | None = None,
                                trace_filter: TraceFilter | None = None, limit: int,
                                answer_as_expected: bool = False,
                                skip_duplicates: bool = False) -> TraceCases:
    if (trace_ids is None) == (trace_filter is None):
        raise Invalid("trace_ids: give either trace_ids or filter", field="trace_ids")
    await dataset_queries.get_dataset(rt.pool, dataset_id)  # 404 before the traces
    truncated = False
    if trace_ids is not None:
        wanted = list(dict.fromkeys(trace_ids))
        rows = await traces_by_id(rt.pool, wanted)
        missing = sorted({str(i) for i in wanted} - {str(r["id"]) for r in rows})
        if missing:
            raise Invalid(f"trace_ids: no such traces: {', '.join(missing)}",
                          field="trace_ids", trace_ids=missing)
    else:
        rows, truncated = await traces_matching(rt.pool, trace_filter, limit=limit)
        if not rows:
            raise Invalid("filter: no trace matches", field="filter")
    cases = cases_from_traces(dataset_id, [dict(r) for r in rows],
                              answer_as_expected=answer_as_expected)
    stored = await handle(rt, dataset_id, domain.AddTraceCases(tuple(cases), skip_duplicates),
                          metadata)
    added = [c["id"] for ev in stored for c in ev.data["cases"]]
    kept = set(added)
    return TraceCases(added=added,
                      skipped_trace_ids=[trace_id_of(c) for c in cases if c["id"] not in kept],
                      selected=len(rows), truncated=truncated)
