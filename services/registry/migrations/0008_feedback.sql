-- Human judgement (issue 16): score configs, and scores of stored traces and of run
-- results (read models of ScoreConfigCreated, TraceScored, ResultScored).
CREATE TABLE IF NOT EXISTS score_configs (
    id          text PRIMARY KEY,
    name        text NOT NULL CONSTRAINT score_configs_name_key UNIQUE,
    data_type   text NOT NULL CHECK (data_type IN ('numeric', 'boolean', 'categorical')),
    min_value   double precision,
    max_value   double precision,
    categories  jsonb NOT NULL DEFAULT '[]',
    description text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL,
    created_by  text
);

-- one score per trace, name, source and actor: a later one replaces it
CREATE TABLE IF NOT EXISTS trace_scores (
    trace_id   uuid NOT NULL,
    name       text NOT NULL,
    source     text NOT NULL,
    actor      text NOT NULL DEFAULT '',
    data_type  text NOT NULL,
    value      double precision NOT NULL,
    label      text,
    comment    text NOT NULL DEFAULT '',
    config_id  text,
    scored_at  timestamptz NOT NULL,
    PRIMARY KEY (trace_id, name, source, actor)
);

CREATE TABLE IF NOT EXISTS result_feedback (
    run_id     text NOT NULL,
    case_id    text NOT NULL,
    target_id  text NOT NULL,
    repeat     integer NOT NULL,
    name       text NOT NULL,
    source     text NOT NULL,
    actor      text NOT NULL DEFAULT '',
    data_type  text NOT NULL,
    value      double precision NOT NULL,
    label      text,
    comment    text NOT NULL DEFAULT '',
    config_id  text,
    scored_at  timestamptz NOT NULL,
    PRIMARY KEY (run_id, case_id, target_id, repeat, name, source, actor)
);

-- a result's id in the API (/runs/{id}/results/{result_id}): derived from its key
ALTER TABLE run_results ADD COLUMN IF NOT EXISTS result_id uuid
    GENERATED ALWAYS AS (md5(run_id || ':' || case_id || ':' || target_id || ':' || repeat::text)::uuid) STORED;
CREATE INDEX IF NOT EXISTS run_results_result_id_idx ON run_results (result_id);
