"""What the registry appends when a worker reports certain facts, in the same
transaction as the fact (``CommandHandler.record_facts``).

- ``CasesGenerated`` (generation stream) → ``CasesAdded`` with source
  ``generation:<id>`` on the dataset's stream, so a dataset's stream holds every case it
  ever got. The follow-up's id derives from the fact's id and cases already in the
  dataset, or rejected from it by a reviewer, are left out: a redelivered or repeated
  batch adds nothing twice and brings no rejected case back.

- ``CaseResultRecorded`` that records a run's last item (the run's read model counts
  them) → ``RunCompleted`` with the summary of every recorded result, on the run's own
  stream (already locked by the fact). Whichever runners did the shards, the registry
  decides once (``domain.runs.completion``; a deterministic id, and only while active).

- A move of a prompt's environment (``PromptEnvironmentMoved``, ``PromptEnvironmentCleared``;
  ``PromptVersionActivated`` moves production) → ``PromptReferenceMoved`` on the stream of
  every prompt whose versions reference that environment of the prompt, directly or
  through other prompts, in the transaction of the move (its command locks those streams
  first: :func:`dependent_streams`), so SDK caches, the event stream and webhooks see the
  dependents change too. One id per move and dependent.

Reactions are not projections: a rebuild replays the stored follow-up events and never
calls these again.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg
import structlog

from harness.evaluation import analysis
from harness.evaluation.models import CaseResult, Target
from harness.events import StoredEvent, streams
from harness.events.base import DomainEvent
from harness.events.dataset_events import CasesAdded
from harness.events.generation_events import CasesGenerated
from harness.events.registry_events import (
    PromptEnvironmentCleared,
    PromptEnvironmentMoved,
    PromptReferenceMoved,
    PromptVersionActivated,
)
from harness.events.run_events import CaseResultRecorded

from .domain import runs
from .domain.prompts import PRODUCTION
from .read.queries import composition

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


async def complete_runs(conn: asyncpg.Connection, stored: Sequence[StoredEvent]
                        ) -> list[FollowUp]:
    """``RunCompleted`` for each run whose last item ``stored`` recorded (once per batch),
    and its scoring work items (``runs.scoring_shards``)."""
    run_ids = dict.fromkeys(ev.data["run_id"] for ev in stored
                            if ev.type == CaseResultRecorded.TYPE)
    out: list[FollowUp] = []
    for run_id in run_ids:
        row = await conn.fetchrow("SELECT status, recorded, expected_results, targets, config "
                                  "FROM runs WHERE id = $1", run_id)
        if row is None:
            continue
        tally = runs.RunTally(run_id, row["status"], row["recorded"], row["expected_results"])
        if not runs.is_complete(tally):
            continue
        # without outputs, prompts and assertion details: the summary never reads them,
        # and they are most of what a run of 100,000 results would load in this transaction
        results = [CaseResult.model_validate(r["result"]) for r in await conn.fetch(
            "SELECT result - $2::text[] AS result FROM run_results WHERE run_id = $1 "
            "ORDER BY case_id, target_id, repeat", run_id, list(analysis.SUMMARY_UNUSED))]
        config = row["config"] or {}
        done = runs.completion(tally, results, [Target.model_validate(t) for t in row["targets"]],
                               case_threshold=config.get("case_threshold", 1.0),
                               min_pass_rate=config.get("min_pass_rate"))
        if done is None:
            continue
        # several runner shards and metrics: the scoring is shared out the same way
        recorded = {r["shard"]: r["n"] for r in await conn.fetch(
            "SELECT shard, count(*) AS n FROM run_results WHERE run_id = $1 GROUP BY shard",
            run_id)}
        scoring = runs.scoring_shards(run_id, config.get("metrics") or [], recorded)
        done = done.model_copy(update={"scoring_shards": len(scoring)})
        out.append(FollowUp(streams.run(run_id), [done, *(e for e, _ in scoring)],
                            [runs.completion_id(run_id), *(i for _, i in scoring)]))
    return out


_MOVES = {PromptVersionActivated.TYPE, PromptEnvironmentMoved.TYPE,
          PromptEnvironmentCleared.TYPE}


async def dependent_streams(conn: asyncpg.Connection | asyncpg.Pool, prompt_id: str
                            ) -> list[str]:
    """The streams of the prompts that reference ``prompt_id`` (any environment, directly
    or not): what a command that may move one of its environments locks with it."""
    return [streams.prompt(p) for p in await composition.dependents(conn, prompt_id)]


def references_moved(locked: Sequence[str]):
    """The reaction of a prompt's command: ``PromptReferenceMoved`` for each dependent of a
    move, on the streams ``locked`` with the command (a dependent that appeared since they
    were looked up is skipped and logged)."""
    allowed = set(locked)

    async def react(conn: asyncpg.Connection, ev: StoredEvent) -> list[FollowUp]:
        if ev.type not in _MOVES:
            return []
        data = ev.data
        environment = data.get("environment", PRODUCTION)
        moved = data["prompt_id"]
        name = await conn.fetchval("SELECT name FROM prompts WHERE id = $1", moved) or ""
        out = []
        for dependent in await composition.dependents(conn, moved, environment):
            stream = streams.prompt(dependent)
            if stream not in allowed:
                log.warning("reference_moved_unlocked_dependent", prompt_id=dependent,
                            moved=moved, environment=environment)
                continue
            out.append(FollowUp(stream, [PromptReferenceMoved(
                prompt_id=dependent, referenced_prompt_id=moved, referenced_name=name,
                environment=environment, version=data.get("version"),
                previous_version=data.get("previous_version"))],
                [uuid.uuid5(_NS, f"reference-moved:{ev.event_id}:{dependent}")]))
        return out

    return react
