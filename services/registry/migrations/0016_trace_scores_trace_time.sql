-- A trace score keeps the recorded time of its trace (issue 16, bench/traces.py).
--
-- GET /traces?score_below=... pages newest trace first. Traces have no index by id alone
-- (gateway_traces is partitioned by day; its key is (id, created_at)), so a score knew its
-- trace only through a probe of every day. With the trace's time beside its id, the
-- scores that match are walked newest trace first from these indexes and each trace is
-- read from its own day: a page costs its own rows, however rare the matching scores.
-- The projection fills it from gateway_traces when the score is recorded; NULL when that
-- trace is not stored (such a score is not found by the score filters).
ALTER TABLE trace_scores ADD COLUMN IF NOT EXISTS trace_created_at timestamptz;

DO $$
BEGIN
    IF to_regclass('gateway_traces') IS NOT NULL THEN  -- (a new database: not yet)
        UPDATE trace_scores s SET trace_created_at = t.created_at
          FROM gateway_traces t WHERE t.id = s.trace_id AND s.trace_created_at IS NULL;
    END IF;
END
$$;

CREATE INDEX IF NOT EXISTS trace_scores_by_trace_time_idx
    ON trace_scores (trace_created_at, trace_id) INCLUDE (name, value)
    WHERE trace_created_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS trace_scores_name_by_trace_time_idx
    ON trace_scores (name, trace_created_at, trace_id) INCLUDE (value)
    WHERE trace_created_at IS NOT NULL;
