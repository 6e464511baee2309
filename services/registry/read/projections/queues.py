"""Read models of annotation queues (listed in :mod:`.catalog`): each queue with its
counts, and its items in the order they were added, pending or done (by whom, when)."""

from __future__ import annotations

import asyncpg

from harness.events import StoredEvent
from harness.events.queue_events import QueueCreated, QueueItemCompleted, QueueItemsAdded

from .projection import Projection


async def _created(conn, ev: StoredEvent) -> None:
    d = QueueCreated.model_validate(ev.data)
    await conn.execute(
        "INSERT INTO annotation_queues (id, name, description, score_names, reviewers, "
        "created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        d.queue_id, d.name, d.description, d.score_names, d.reviewers, ev.recorded_at,
        ev.metadata.actor)


async def _items_added(conn, ev: StoredEvent) -> None:
    d = QueueItemsAdded.model_validate(ev.data)
    base = ev.global_position * 10_000
    added = await conn.fetchval(
        """WITH ins AS (
             INSERT INTO annotation_queue_items (queue_id, item_id, position, kind, trace_id,
                                                 run_id, result_id, added_at)
             SELECT $1, t.item_id, t.pos, t.kind, t.trace_id, t.run_id, t.result_id, $8
               FROM unnest($2::text[], $3::bigint[], $4::text[], $5::uuid[], $6::text[],
                           $7::uuid[]) AS t(item_id, pos, kind, trace_id, run_id, result_id)
             ON CONFLICT DO NOTHING RETURNING 1)
           SELECT count(*) FROM ins""",
        d.queue_id, [i["item_id"] for i in d.items], [base + n for n in range(len(d.items))],
        [i["kind"] for i in d.items], [i.get("trace_id") for i in d.items],
        [i.get("run_id") for i in d.items], [i.get("result_id") for i in d.items],
        ev.recorded_at)
    await conn.execute("UPDATE annotation_queues SET item_count = item_count + $2 "
                       "WHERE id = $1", d.queue_id, added)


async def _item_completed(conn, ev: StoredEvent) -> None:
    d = QueueItemCompleted.model_validate(ev.data)
    done = await conn.fetchval(
        "UPDATE annotation_queue_items SET status = 'done', completed_by = $3, "
        "completed_at = $4 WHERE queue_id = $1 AND item_id = $2 AND status = 'pending' "
        "RETURNING 1", d.queue_id, d.item_id, ev.metadata.actor, ev.recorded_at)
    if done:
        await conn.execute("UPDATE annotation_queues SET done_count = done_count + 1 "
                           "WHERE id = $1", d.queue_id)


_HANDLERS = {
    QueueCreated.TYPE: _created,
    QueueItemsAdded.TYPE: _items_added,
    QueueItemCompleted.TYPE: _item_completed,
}


async def apply(conn: asyncpg.Connection, ev: StoredEvent) -> None:
    await _HANDLERS[ev.type](conn, ev)


PROJECTION = Projection(
    name="queues",
    types=frozenset(_HANDLERS),
    apply=apply,
    tables=("annotation_queues", "annotation_queue_items"),
)
