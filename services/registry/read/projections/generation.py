"""Read models of generations and of the review of generated cases (listed in
:mod:`.catalog` after ``evaluation``, so the cases a ``CasesAdded`` inserts are there to
mark).

A rejected case is removed from ``test_cases`` by the ``CaseRemoved`` that follows its
``CaseReviewed``; before that, the rejection copies it into ``rejected_cases`` with the
reviewer's note, so reviewers can still read what they turned down."""

from __future__ import annotations

import asyncpg

from harness.events import StoredEvent
from harness.events.dataset_events import CaseReviewed, CasesAdded
from harness.events.generation_events import (
    CasesGenerated,
    GenerationCancelled,
    GenerationCompleted,
    GenerationFailed,
    GenerationRequested,
    GenerationStarted,
)

from .evaluation import case_columns, mark_cases_changed
from .projection import Projection

MAX_STORED_ERRORS = 500  # per generation; the count is exact, the list is a sample


def merge_usage(total: dict, more: dict) -> dict:
    """Sum call and token counts; a cost is unknown (None) once any part is unknown."""
    out = dict(total)
    for key, value in more.items():
        if key == "cost_usd":
            known = out.get(key, 0.0)
            out[key] = None if value is None or known is None else known + value
        elif isinstance(value, int | float):
            out[key] = out.get(key, 0) + value
    return out


def merge_documents(documents: list[dict], reported: list[dict]) -> list[dict]:
    """The requested documents with what the generator found in each (by name)."""
    found = {d["name"]: d for d in reported}
    return [{**d, **{k: v for k, v in found.get(d["name"], {}).items() if k != "name"}}
            for d in documents]


async def _requested(conn, ev: StoredEvent) -> None:
    d = GenerationRequested.model_validate(ev.data)
    await conn.execute(
        "INSERT INTO generations (id, dataset_id, status, engine, model, language, "
        "question_kinds, num_questions, documents, requested_by, requested_at) "
        "VALUES ($1, $2, 'queued', $3, $4, $5, $6, $7, $8, $9, $10)",
        d.generation_id, d.dataset_id, d.engine, d.model, d.language, d.question_kinds,
        d.num_questions, d.documents, ev.metadata.actor, ev.recorded_at)


async def _started(conn, ev: StoredEvent) -> None:
    d = GenerationStarted.model_validate(ev.data)
    docs = await conn.fetchval("SELECT documents FROM generations WHERE id = $1", d.generation_id)
    if docs is None:
        return
    await conn.execute(
        "UPDATE generations SET status = CASE WHEN status = 'queued' THEN 'running' "
        "ELSE status END, started_at = coalesce(started_at, $2), worker = $3, "
        "engine = CASE WHEN $4 = '' THEN engine ELSE $4 END, documents = $5 WHERE id = $1",
        d.generation_id, ev.recorded_at, d.worker, d.engine,
        merge_documents(docs, d.documents))


async def _cases_generated(conn, ev: StoredEvent) -> None:
    d = CasesGenerated.model_validate(ev.data)
    row = await conn.fetchrow("SELECT batches, errors, usage FROM generations WHERE id = $1",
                              d.generation_id)
    if row is None or d.batch in row["batches"]:
        return
    errors = (row["errors"] + d.errors)[:MAX_STORED_ERRORS]
    await conn.execute(
        "UPDATE generations SET generated = generated + $2, failed = failed + $3, "
        "errors = $4, usage = $5, batches = array_append(batches, $6), "
        "status = CASE WHEN status = 'queued' THEN 'running' ELSE status END, "
        "started_at = coalesce(started_at, $7) WHERE id = $1",
        d.generation_id, len(d.cases), len(d.errors), errors, merge_usage(row["usage"], d.usage),
        d.batch, ev.recorded_at)


async def _finished(conn, ev: StoredEvent) -> None:
    """The first ending counts: what a generator reports after a cancellation (a batch in
    flight, a completion) changes no status."""
    if ev.type == GenerationCancelled.TYPE:
        c = GenerationCancelled.model_validate(ev.data)
        await conn.execute(
            "UPDATE generations SET status = 'cancelled', reason = $2, cancelled_by = $3, "
            "finished_at = $4 WHERE id = $1 AND status IN ('queued', 'running')",
            c.generation_id, c.reason or None, ev.metadata.actor, ev.recorded_at)
        return
    if ev.type == GenerationCompleted.TYPE:
        d = GenerationCompleted.model_validate(ev.data)
        await conn.execute(
            "UPDATE generations SET status = 'completed', finished_at = $2 "
            "WHERE id = $1 AND status IN ('queued', 'running')", d.generation_id, ev.recorded_at)
        return
    f = GenerationFailed.model_validate(ev.data)
    docs = await conn.fetchval("SELECT documents FROM generations WHERE id = $1", f.generation_id)
    if docs is None:
        return
    await conn.execute(
        "UPDATE generations SET status = 'failed', reason = $2, finished_at = $3, "
        "documents = $4 WHERE id = $1 AND status IN ('queued', 'running')",
        f.generation_id, f.error, ev.recorded_at, merge_documents(docs, f.documents))


async def _cases_added(conn, ev: StoredEvent) -> None:
    d = CasesAdded.model_validate(ev.data)
    if not d.source.startswith("generation:"):
        return
    await conn.execute("UPDATE test_cases SET review_status = 'pending' WHERE id = ANY($1)",
                       [c["id"] for c in d.cases])
    await conn.execute("UPDATE datasets SET synthetic = true WHERE id = $1", d.dataset_id)


async def _case_reviewed(conn, ev: StoredEvent) -> None:
    d = CaseReviewed.model_validate(ev.data)
    if d.decision != "accepted":
        await _rejected(conn, d, ev)
        return
    changes = case_columns(d.changes)
    sets = ["review_status = 'accepted'", "reviewed_by = $2", "reviewed_at = $3",
            "review_note = $4", "updated_at = $3"]
    sets += [f"{column} = ${i + 5}" for i, column in enumerate(changes)]
    await conn.execute(f"UPDATE test_cases SET {', '.join(sets)} WHERE id = $1",
                       d.case_id, ev.metadata.actor, ev.recorded_at, d.note, *changes.values())
    if changes:  # an edited case must be looked at again before the dataset counts as verified
        await mark_cases_changed(conn, d.dataset_id, ev.recorded_at, 0)


async def _rejected(conn, d: CaseReviewed, ev: StoredEvent) -> None:
    """Keep the case as it was when rejected (the ``CaseRemoved`` that follows deletes it
    from the dataset)."""
    await conn.execute(
        "INSERT INTO rejected_cases (id, dataset_id, position, input, expected_output, "
        "metadata, assertions, threshold, created_at, reviewed_by, reviewed_at, review_note) "
        "SELECT id, dataset_id, position, input, expected_output, metadata, assertions, "
        "threshold, created_at, $3, $4, $5 FROM test_cases WHERE id = $1 AND dataset_id = $2 "
        "ON CONFLICT (dataset_id, id) DO UPDATE SET position = excluded.position, "
        "input = excluded.input, expected_output = excluded.expected_output, "
        "metadata = excluded.metadata, assertions = excluded.assertions, "
        "threshold = excluded.threshold, created_at = excluded.created_at, "
        "reviewed_by = excluded.reviewed_by, reviewed_at = excluded.reviewed_at, "
        "review_note = excluded.review_note",
        d.case_id, d.dataset_id, ev.metadata.actor, ev.recorded_at, d.note)


_HANDLERS = {
    GenerationRequested.TYPE: _requested,
    GenerationStarted.TYPE: _started,
    CasesGenerated.TYPE: _cases_generated,
    GenerationCompleted.TYPE: _finished,
    GenerationFailed.TYPE: _finished,
    GenerationCancelled.TYPE: _finished,
    CasesAdded.TYPE: _cases_added,
    CaseReviewed.TYPE: _case_reviewed,
}


async def apply(conn: asyncpg.Connection, ev: StoredEvent) -> None:
    await _HANDLERS[ev.type](conn, ev)


PROJECTION = Projection(
    name="generation",
    types=frozenset(_HANDLERS),
    apply=apply,
    tables=("generations", "rejected_cases"),
)
