"""What the registry appends when a worker reports certain facts, in the same
transaction as the fact (``CommandHandler.record_facts``).

- ``CasesGenerated`` (generation stream) → ``CasesAdded`` with source
  ``generation:<id>`` on the dataset's stream, so a dataset's stream holds every case it
  ever got. The follow-up's id derives from the fact's id and cases already in the
  dataset, or rejected from it by a reviewer, are left out: a redelivered or repeated
  batch adds nothing twice and brings no rejected case back.

Reactions are not projections: a rebuild replays the stored follow-up events and never
calls these again.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg
import structlog

from harness.events import StoredEvent, streams
from harness.events.base import DomainEvent
from harness.events.dataset_events import CasesAdded
from harness.events.generation_events import CasesGenerated

log = structlog.get_logger(__name__)

_NS = uuid.UUID("a4f0b7c2-3e61-4d8a-9c55-0d2e7b1f6a93")


@dataclass(frozen=True)
class FollowUp:
    stream_id: str
    events: list[DomainEvent]
    event_ids: list[uuid.UUID]


def streams_to_lock(events: Sequence[DomainEvent]) -> list[str]:
    """The streams reactions to ``events`` may append to, sorted (a fixed lock order)."""
    return sorted({streams.dataset(e.dataset_id) for e in events if isinstance(e, CasesGenerated)})


async def react(conn: asyncpg.Connection, ev: StoredEvent) -> list[FollowUp]:
    if ev.type != CasesGenerated.TYPE:
        return []
    fact = CasesGenerated.model_validate(ev.data)
    if not fact.cases:
        return []
    if not await conn.fetchval("SELECT 1 FROM datasets WHERE id = $1", fact.dataset_id):
        log.warning("generated_cases_without_dataset", generation_id=fact.generation_id,
                    dataset_id=fact.dataset_id)
        return []
    present = set(await conn.fetchval(
        "SELECT coalesce(array_agg(id), '{}') FROM (SELECT id FROM test_cases "
        "WHERE id = ANY($1::text[]) UNION ALL SELECT id FROM rejected_cases "
        "WHERE dataset_id = $2 AND id = ANY($1::text[])) AS known",
        [c["id"] for c in fact.cases], fact.dataset_id))
    cases = [c for c in fact.cases if c["id"] not in present]
    if not cases:
        return []
    return [FollowUp(
        stream_id=streams.dataset(fact.dataset_id),
        events=[CasesAdded(dataset_id=fact.dataset_id, cases=cases,
                           source=f"generation:{fact.generation_id}")],
        event_ids=[uuid.uuid5(_NS, f"cases-added:{ev.event_id}")])]
