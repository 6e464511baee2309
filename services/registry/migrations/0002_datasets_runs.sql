CREATE TABLE IF NOT EXISTS datasets (
    id             text PRIMARY KEY,
    name           text NOT NULL,
    description    text NOT NULL DEFAULT '',
    dataset_type   text NOT NULL CHECK (dataset_type IN ('golden', 'evaluation')),
    synthetic      boolean NOT NULL DEFAULT false,
    is_verified    boolean NOT NULL DEFAULT false,
    verified_at    timestamptz,
    verified_by    text,
    case_count     integer NOT NULL DEFAULT 0,
    default_assert jsonb NOT NULL DEFAULT '[]'::jsonb,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS datasets_name_key ON datasets (lower(name));

CREATE TABLE IF NOT EXISTS test_cases (
    id              text PRIMARY KEY,
    dataset_id      text NOT NULL REFERENCES datasets (id),
    position        bigint NOT NULL,
    input           jsonb NOT NULL DEFAULT '{}'::jsonb,
    expected_output text,
    metadata        jsonb NOT NULL DEFAULT '{}'::jsonb,
    assertions      jsonb NOT NULL DEFAULT '[]'::jsonb,
    threshold       double precision,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS test_cases_dataset_idx ON test_cases (dataset_id, position);

CREATE TABLE IF NOT EXISTS runs (
    id               text PRIMARY KEY,
    dataset_id       text NOT NULL,
    dataset_name     text NOT NULL,
    status           text NOT NULL,
    description      text NOT NULL DEFAULT '',
    source           text NOT NULL DEFAULT 'api',
    targets          jsonb NOT NULL,
    config           jsonb NOT NULL,
    snapshot_uri     text NOT NULL,
    snapshot_sha256  text NOT NULL,
    case_count       integer NOT NULL,
    expected_results integer NOT NULL,
    recorded         integer NOT NULL DEFAULT 0,
    passed           integer NOT NULL DEFAULT 0,
    failed           integer NOT NULL DEFAULT 0,
    errors           integer NOT NULL DEFAULT 0,
    summary          jsonb,
    requested_by     text,
    requested_at     timestamptz NOT NULL,
    started_at       timestamptz,
    finished_at      timestamptz,
    reason           text
);
CREATE INDEX IF NOT EXISTS runs_requested_idx ON runs (requested_at DESC);
CREATE INDEX IF NOT EXISTS runs_dataset_idx ON runs (dataset_id);

CREATE TABLE IF NOT EXISTS run_results (
    run_id      text NOT NULL,
    case_id     text NOT NULL,
    target_id   text NOT NULL,
    repeat      integer NOT NULL,
    status      text NOT NULL,
    score       double precision,
    latency_ms  double precision,
    total_tokens integer,
    cost_usd    double precision,
    result      jsonb NOT NULL,
    recorded_at timestamptz NOT NULL,
    PRIMARY KEY (run_id, case_id, target_id, repeat)
);
CREATE INDEX IF NOT EXISTS run_results_status_idx ON run_results (run_id, status);
