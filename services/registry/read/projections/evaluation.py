"""Read models of datasets, cases, runs, run results and scores (listed in :mod:`.catalog`)."""

from __future__ import annotations

import asyncpg
import orjson

from harness.events import StoredEvent
from harness.events.dataset_events import (
    CaseRemoved,
    CasesAdded,
    CaseUpdated,
    DatasetCreated,
    DatasetUpdated,
    DatasetVerified,
)
from harness.events.run_events import (
    CaseResultRecorded,
    RunCancelled,
    RunCompleted,
    RunFailed,
    RunRequested,
    RunStarted,
    ScoresRecorded,
)

from .projection import Projection


def _json(value) -> str:
    return orjson.dumps(value).decode()


_CASE_COLUMN = {"input": "input", "expected_output": "expected_output", "metadata": "metadata",
                "assert": "assertions", "threshold": "threshold"}


async def _dataset_created(conn, ev: StoredEvent) -> None:
    d = DatasetCreated.model_validate(ev.data)
    await conn.execute(
        "INSERT INTO datasets (id, name, description, dataset_type, synthetic, default_assert, "
        "default_metrics, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
        d.dataset_id, d.name, d.description, d.dataset_type, d.synthetic, d.default_assert,
        d.default_metrics, ev.recorded_at)


async def _dataset_updated(conn, ev: StoredEvent) -> None:
    d = DatasetUpdated.model_validate(ev.data)
    changes = {k: v for k, v in d.changes.items()
               if k in ("name", "description", "dataset_type", "default_assert",
                        "default_metrics")}
    sets = [f"{k} = ${i + 2}" for i, k in enumerate(changes)]
    sets.append(f"updated_at = ${len(changes) + 2}")
    await conn.execute(f"UPDATE datasets SET {', '.join(sets)} WHERE id = $1",
                       d.dataset_id, *changes.values(), ev.recorded_at)


async def mark_cases_changed(conn, dataset_id: str, at, delta: int) -> None:
    # any change to the cases clears a person's verification: they must look again
    await conn.execute(
        "UPDATE datasets SET case_count = case_count + $2, is_verified = false, "
        "verified_at = NULL, verified_by = NULL, updated_at = $3 WHERE id = $1",
        dataset_id, delta, at)


async def _cases_added(conn, ev: StoredEvent) -> None:
    d = CasesAdded.model_validate(ev.data)
    base = ev.global_position * 10_000
    await conn.execute(
        """INSERT INTO test_cases (id, dataset_id, position, input, expected_output, metadata,
                                   assertions, threshold, created_at, updated_at)
           SELECT t.id, $1, t.pos, t.inp::jsonb, t.exp, t.meta::jsonb, t.asr::jsonb, t.thr, $9, $9
             FROM unnest($2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[],
                         $7::text[], $8::float8[]) AS t(id, pos, inp, exp, meta, asr, thr)""",
        d.dataset_id,
        [c["id"] for c in d.cases],
        [base + i for i in range(len(d.cases))],
        [_json(c.get("input") or {}) for c in d.cases],
        [c.get("expected_output") for c in d.cases],
        [_json(c.get("metadata") or {}) for c in d.cases],
        [_json(c.get("assert") or []) for c in d.cases],
        [c.get("threshold") for c in d.cases],
        ev.recorded_at,
    )
    await mark_cases_changed(conn, d.dataset_id, ev.recorded_at, len(d.cases))


def case_columns(changes: dict) -> dict:
    """A case's changed fields as ``test_cases`` columns (a cleared input, metadata or
    assertion list stored empty, never NULL)."""
    out = {_CASE_COLUMN[k]: v for k, v in changes.items() if k in _CASE_COLUMN}
    for key in ("input", "metadata", "assertions"):
        if key in out and out[key] is None:
            out[key] = [] if key == "assertions" else {}
    return out


async def _case_updated(conn, ev: StoredEvent) -> None:
    d = CaseUpdated.model_validate(ev.data)
    changes = case_columns(d.changes)
    sets = [f"{k} = ${i + 2}" for i, k in enumerate(changes)]
    sets.append(f"updated_at = ${len(changes) + 2}")
    await conn.execute(f"UPDATE test_cases SET {', '.join(sets)} WHERE id = $1",
                       d.case_id, *changes.values(), ev.recorded_at)
    await mark_cases_changed(conn, d.dataset_id, ev.recorded_at, 0)


async def _case_removed(conn, ev: StoredEvent) -> None:
    d = CaseRemoved.model_validate(ev.data)
    await conn.execute("DELETE FROM test_cases WHERE id = $1", d.case_id)
    await mark_cases_changed(conn, d.dataset_id, ev.recorded_at, -1)


async def _dataset_verified(conn, ev: StoredEvent) -> None:
    d = DatasetVerified.model_validate(ev.data)
    await conn.execute(
        "UPDATE datasets SET is_verified = true, verified_at = $2, verified_by = $3, "
        "updated_at = $2 WHERE id = $1", d.dataset_id, ev.recorded_at, ev.metadata.actor)


async def _run_requested(conn, ev: StoredEvent) -> None:
    d = RunRequested.model_validate(ev.data)
    config = {"concurrency": d.concurrency, "repeat": d.repeat, "default_assert": d.default_assert,
              "case_threshold": d.case_threshold, "min_pass_rate": d.min_pass_rate,
              "cache": d.cache, "judge_model": d.judge_model, "metrics": d.metrics,
              "judge_params": d.judge_params, "embedding_model": d.embedding_model}
    if d.trace_context:  # the run's OpenTelemetry span, for the scorer's spans to join
        config["trace_context"] = d.trace_context
    expected = d.case_count * len(d.targets) * d.repeat
    await conn.execute(
        "INSERT INTO runs (id, dataset_id, dataset_name, status, description, source, targets, "
        "config, snapshot_uri, snapshot_sha256, case_count, expected_results, scores_expected, "
        "requested_by, requested_at) "
        "VALUES ($1, $2, $3, 'queued', $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        d.run_id, d.dataset_id, d.dataset_name, d.description, d.source, d.targets, config,
        d.snapshot_uri, d.snapshot_sha256, d.case_count, expected, expected * len(d.metrics),
        ev.metadata.actor, ev.recorded_at)


async def _run_started(conn, ev: StoredEvent) -> None:
    d = RunStarted.model_validate(ev.data)
    await conn.execute(
        "UPDATE runs SET status = 'running', started_at = coalesce(started_at, $2) "
        "WHERE id = $1 AND status = 'queued'", d.run_id, ev.recorded_at)


async def _result_recorded(conn, ev: StoredEvent) -> None:
    d = CaseResultRecorded.model_validate(ev.data)
    r = d.result
    inserted = await conn.fetchval(
        "INSERT INTO run_results (run_id, case_id, target_id, repeat, status, score, latency_ms, "
        "total_tokens, cost_usd, result, recorded_at, shard) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT DO NOTHING "
        "RETURNING 1",
        d.run_id, r["case_id"], r["target_id"], r.get("repeat", 0), r["status"], r.get("score"),
        r.get("latency_ms"), r.get("total_tokens"), r.get("cost_usd"), r, ev.recorded_at,
        d.shard)
    if inserted:
        col = {"pass": "passed", "fail": "failed", "error": "errors"}[r["status"]]
        await conn.execute(
            f"UPDATE runs SET recorded = recorded + 1, {col} = {col} + 1, "
            "status = CASE WHEN status = 'queued' THEN 'running' ELSE status END, "
            "started_at = coalesce(started_at, $2) WHERE id = $1", d.run_id, ev.recorded_at)


async def _run_finished(conn, ev: StoredEvent) -> None:
    if ev.type == RunCompleted.TYPE:
        d = RunCompleted.model_validate(ev.data)
        await conn.execute(
            "UPDATE runs SET status = 'completed', summary = $2, finished_at = $3 "
            "WHERE id = $1 AND status IN ('queued', 'running')", d.run_id, d.summary,
            ev.recorded_at)
    elif ev.type == RunCancelled.TYPE:
        d = RunCancelled.model_validate(ev.data)
        await conn.execute(
            "UPDATE runs SET status = 'cancelled', reason = $2, finished_at = $3 "
            "WHERE id = $1 AND status IN ('queued', 'running')", d.run_id, d.reason,
            ev.recorded_at)
    else:
        d = RunFailed.model_validate(ev.data)
        await conn.execute(
            "UPDATE runs SET status = 'failed', reason = $2, finished_at = $3 "
            "WHERE id = $1 AND status IN ('queued', 'running')", d.run_id, d.error,
            ev.recorded_at)


async def _scores_recorded(conn, ev: StoredEvent) -> None:
    d = ScoresRecorded.model_validate(ev.data)
    score = d.model_dump(mode="json", exclude={"run_id", "case_id", "target_id", "repeat",
                                               "metric"})
    inserted = await conn.fetchval(
        "INSERT INTO run_scores (run_id, case_id, target_id, repeat, metric, status, value, "
        "score, recorded_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
        "ON CONFLICT DO NOTHING RETURNING 1",
        d.run_id, d.case_id, d.target_id, d.repeat, d.metric, d.status, d.value, score,
        ev.recorded_at)
    if inserted:
        await conn.execute("UPDATE runs SET scores_recorded = scores_recorded + 1 WHERE id = $1",
                           d.run_id)


_HANDLERS = {
    DatasetCreated.TYPE: _dataset_created,
    DatasetUpdated.TYPE: _dataset_updated,
    CasesAdded.TYPE: _cases_added,
    CaseUpdated.TYPE: _case_updated,
    CaseRemoved.TYPE: _case_removed,
    DatasetVerified.TYPE: _dataset_verified,
    RunRequested.TYPE: _run_requested,
    RunStarted.TYPE: _run_started,
    CaseResultRecorded.TYPE: _result_recorded,
    RunCompleted.TYPE: _run_finished,
    RunCancelled.TYPE: _run_finished,
    RunFailed.TYPE: _run_finished,
    ScoresRecorded.TYPE: _scores_recorded,
}


async def apply(conn: asyncpg.Connection, ev: StoredEvent) -> None:
    await _HANDLERS[ev.type](conn, ev)


PROJECTION = Projection(
    name="evaluation",
    types=frozenset(_HANDLERS),
    apply=apply,
    tables=("run_scores", "run_results", "runs", "test_cases", "datasets"),
)
