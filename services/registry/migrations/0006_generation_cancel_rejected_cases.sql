-- A generation can be cancelled; rejected generated cases stay readable for reviewers.
ALTER TABLE generations DROP CONSTRAINT IF EXISTS generations_status_check;
ALTER TABLE generations ADD CONSTRAINT generations_status_check
    CHECK (status IN ('queued', 'running', 'completed', 'failed', 'cancelled'));
ALTER TABLE generations ADD COLUMN IF NOT EXISTS cancelled_by text;

-- A generated case as it was when a reviewer rejected it (the case leaves the dataset).
CREATE TABLE IF NOT EXISTS rejected_cases (
    id              text NOT NULL,
    dataset_id      text NOT NULL,
    position        bigint NOT NULL,         -- its place in the dataset before the rejection
    input           jsonb NOT NULL,
    expected_output text,
    metadata        jsonb NOT NULL,
    assertions      jsonb NOT NULL,
    threshold       double precision,
    created_at      timestamptz NOT NULL,
    reviewed_by     text,
    reviewed_at     timestamptz NOT NULL,
    review_note     text NOT NULL DEFAULT '',
    PRIMARY KEY (dataset_id, id)
);
CREATE INDEX IF NOT EXISTS rejected_cases_position_idx ON rejected_cases (dataset_id, position);
