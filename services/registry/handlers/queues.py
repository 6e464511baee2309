"""Annotation queues: create one, add traces or run results (by id or filter), complete
an item. Decided by ``domain.queues`` on the queue's stream, with what it asks about (the
score configs named, the items at stake) read under the stream's lock."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

import asyncpg

from harness.events import EventMetadata, StoredEvent, streams

from ..commands import FromReadModel, pure
from ..domain import queues as domain
from ..domain.errors import Invalid
from ..read.queries import queues as queries
from ..read.queries.traces import TraceFilter, traces_matching

if TYPE_CHECKING:
    from ..runtime import Runtime


def _aggregate(queue_id: str, item_ids: list[str] = (), configs: list[str] = ()
               ) -> FromReadModel[domain.QueueState]:
    async def query(conn: asyncpg.Connection) -> domain.QueueState:
        known = frozenset(r["name"] for r in await conn.fetch(
            "SELECT name FROM score_configs WHERE name = ANY($1::text[])", list(configs))
        ) if configs else frozenset()
        row = await conn.fetchrow("SELECT id, reviewers FROM annotation_queues WHERE id = $1",
                                  queue_id)
        if row is None:
            return domain.QueueState(known_configs=known)
        items = {r["item_id"]: r["status"] for r in await conn.fetch(
            "SELECT item_id, status FROM annotation_queue_items WHERE queue_id = $1 "
            "AND item_id = ANY($2::text[])", queue_id, list(item_ids))} if item_ids else {}
        return domain.QueueState(queue_id=row["id"], reviewers=tuple(row["reviewers"]),
                                 known_configs=known, items=items)

    return FromReadModel(query)


async def _handle(rt: Runtime, queue_id: str, command, metadata: EventMetadata, *,
                  item_ids: list[str] = (), configs: list[str] = ()) -> list[StoredEvent]:
    _, stored = await rt.commands.execute(
        streams.queue(queue_id), _aggregate(queue_id, item_ids, configs),
        pure(lambda state: domain.decide(command, state)), metadata)
    return stored


async def create_queue(rt: Runtime, command: domain.CreateQueue,
                       metadata: EventMetadata) -> list[StoredEvent]:
    return await _handle(rt, command.queue_id, command, metadata,
                         configs=list(command.score_names))


@dataclass(frozen=True)
class QueueItems:
    added: int
    skipped: int      # already in the queue
    selected: int
    truncated: bool   # a filter matched more than the limit


async def add_items(rt: Runtime, queue_id: str, metadata: EventMetadata, *,
                    trace_ids: list[uuid.UUID] | None = None,
                    trace_filter: TraceFilter | None = None,
                    results: list[tuple[str, uuid.UUID]] | None = None,
                    run_filter: tuple[str, str | None, str | None] | None = None,
                    limit: int = 100) -> QueueItems:
    """Exactly one of: trace ids, a trace filter (its newest ``limit``), (run id, result
    id) pairs, or a run's results filtered by (run id, status, target id)."""
    given = [x is not None for x in (trace_ids, trace_filter, results, run_filter)]
    if sum(given) != 1:
        raise Invalid("items: give one of trace_ids, trace_filter, results or run_results",
                      field="items")
    await queries.get_queue(rt.pool, queue_id)  # 404 first
    truncated = False
    if trace_ids is not None:
        wanted = list(dict.fromkeys(trace_ids))
        missing = sorted(str(t) for t in set(wanted) - await queries.traces_existing(
            rt.pool, wanted))
        if missing:
            raise Invalid(f"trace_ids: no such traces: {', '.join(missing)}",
                          field="trace_ids", trace_ids=missing)
        items = [domain.trace_item(queue_id, str(t)) for t in wanted]
    elif trace_filter is not None:
        rows, truncated = await traces_matching(rt.pool, trace_filter, limit=limit)
        items = [domain.trace_item(queue_id, str(r["id"])) for r in rows]
    elif results is not None:
        wanted_r = list(dict.fromkeys(results))
        found = await queries.results_existing(rt.pool, wanted_r)
        missing = [f"{r}/{i}" for r, i in wanted_r if (r, i) not in found]
        if missing:
            raise Invalid(f"results: no such results: {', '.join(missing)}",
                          field="results", results=missing)
        items = [domain.result_item(queue_id, r, str(i)) for r, i in wanted_r]
    else:
        assert run_filter is not None
        run_id, status, target_id = run_filter
        ids, truncated = await queries.results_matching(rt.pool, run_id, status, target_id,
                                                        limit=limit)
        items = [domain.result_item(queue_id, run_id, str(i)) for i in ids]
    if not items:
        raise Invalid("items: nothing matches", field="items")
    stored = await _handle(rt, queue_id, domain.AddItems(tuple(items)), metadata,
                           item_ids=[i["item_id"] for i in items])
    added = sum(len(ev.data["items"]) for ev in stored)
    return QueueItems(added=added, skipped=len(items) - added, selected=len(items),
                      truncated=truncated)


async def complete_item(rt: Runtime, queue_id: str, item_id: str,
                        metadata: EventMetadata) -> list[StoredEvent]:
    return await _handle(rt, queue_id, domain.CompleteItem(item_id, metadata.actor), metadata,
                         item_ids=[item_id])
