-- Scorer metrics: per-dataset defaults, scoring progress per run, one row per score.
ALTER TABLE datasets ADD COLUMN IF NOT EXISTS default_metrics jsonb NOT NULL DEFAULT '[]'::jsonb;
ALTER TABLE runs ADD COLUMN IF NOT EXISTS scores_expected integer NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN IF NOT EXISTS scores_recorded integer NOT NULL DEFAULT 0;

CREATE TABLE IF NOT EXISTS run_scores (
    run_id      text NOT NULL,
    case_id     text NOT NULL,
    target_id   text NOT NULL,
    repeat      integer NOT NULL,
    metric      text NOT NULL,
    status      text NOT NULL CHECK (status IN ('ok', 'not_applicable', 'error')),
    value       double precision,
    score       jsonb NOT NULL,           -- status, value, reason, judge usage, details
    recorded_at timestamptz NOT NULL,
    PRIMARY KEY (run_id, case_id, target_id, repeat, metric)
);
