"""Datasets: create, change, add / edit / remove cases, verify, review generated cases,
promote reviewed cases into a golden dataset, make cases of stored traces.

The aggregate's state is small (counts, flags, the review status of the cases a command
names) and read from the read model under the stream's lock; cases live in events.
Assertion lists and metric names are checked before anything is loaded, as the API
reports them first.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import asyncpg

from harness.events import EventMetadata, StoredEvent, streams

from ..commands import FromReadModel, pure
from ..domain import datasets as domain
from ..domain.checks import check_assertions
from ..domain.errors import Invalid, NotFound
from ..domain.trace_cases import cases_from_traces, trace_id_of
from ..read.queries import datasets as dataset_queries
from ..read.queries.review import cases_with_review
from ..read.queries.traces import TraceFilter, traces_by_id, traces_matching
from ..scores import canonical_metrics

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
    """Any dataset command, as it is (removing a case, verifying, importing parsed cases)."""
    _, stored = await rt.commands.execute(
        streams.dataset(dataset_id), _aggregate(dataset_id, command),
        pure(lambda state: domain.decide(command, state)), metadata)
    return stored


async def create(rt: Runtime, command: domain.CreateDataset, metadata: EventMetadata) -> None:
    check_assertions(command.default_assert, "default_assert")
    metrics = canonical_metrics(command.default_metrics, "default_metrics")
    await handle(rt, command.dataset_id, replace(command, default_metrics=metrics), metadata)


async def update(rt: Runtime, dataset_id: str, command: domain.UpdateDataset,
                 metadata: EventMetadata) -> None:
    changes = dict(command.changes)
    if changes.get("default_assert") is not None:
        check_assertions(changes["default_assert"], "default_assert")
    if "default_metrics" in changes:
        changes["default_metrics"] = canonical_metrics(changes["default_metrics"] or [],
                                                       "default_metrics")
    await handle(rt, dataset_id, domain.UpdateDataset(changes), metadata)


async def add_cases(rt: Runtime, dataset_id: str, command: domain.AddCases,
                    metadata: EventMetadata) -> None:
    for i, case in enumerate(command.cases):
        check_assertions(case["assert"], f"cases.{i}.assert")
    await handle(rt, dataset_id, command, metadata)


async def update_case(rt: Runtime, dataset_id: str, command: domain.UpdateCase,
                      metadata: EventMetadata) -> None:
    if command.changes.get("assert") is not None:
        check_assertions(command.changes["assert"], "assert")
    await handle(rt, dataset_id, command, metadata)


async def review(rt: Runtime, dataset_id: str, command: domain.ReviewCases,
                 metadata: EventMetadata) -> None:
    """All decisions are recorded together or not at all."""
    for i, d in enumerate(command.decisions):
        if d.changes.get("assert") is not None:
            check_assertions(d.changes["assert"], f"decisions.{i}.changes.assert")
    await handle(rt, dataset_id, command, metadata)


@dataclass(frozen=True)
class Promoted:
    promoted: list[str]  # ids of the new golden cases
    already_present: list[str]  # source cases promoted before (skipped)


async def promote(rt: Runtime, dataset_id: str, source_dataset_id: str, case_ids: list[str],
                  metadata: EventMetadata) -> Promoted:
    """Copies of the source's cases (accepted ones, when generated) into this golden
    dataset; a case promoted before is skipped."""
    if not await _exists(rt.pool, dataset_id):
        raise NotFound(f"dataset {dataset_id} not found")
    if not await _exists(rt.pool, source_dataset_id):
        raise Invalid(f"source_dataset_id: dataset {source_dataset_id} not found",
                      field="source_dataset_id")
    wanted = list(dict.fromkeys(case_ids))
    found = await cases_with_review(rt.pool, source_dataset_id, wanted)
    copies = domain.promotion_copies(dataset_id, source_dataset_id, wanted, found)
    stored = await handle(rt, dataset_id, domain.PromoteCases(source_dataset_id, tuple(copies)),
                          metadata)
    added = {c["id"] for ev in stored for c in ev.data.get("cases", [])}
    return Promoted(
        promoted=[c["id"] for c in copies if c["id"] in added],
        already_present=[src for src, c in zip(wanted, copies, strict=True)
                         if c["id"] not in added])


async def _exists(pool: asyncpg.Pool, dataset_id: str) -> bool:
    return bool(await pool.fetchval("SELECT 1 FROM datasets WHERE id = $1", dataset_id))


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
