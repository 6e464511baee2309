-- Synthetic test data: generation progress, and the review of generated cases.
CREATE TABLE IF NOT EXISTS generations (
    id             text PRIMARY KEY,
    dataset_id     text NOT NULL,
    status         text NOT NULL CHECK (status IN ('queued', 'running', 'completed', 'failed')),
    engine         text NOT NULL,
    model          text,
    language       text NOT NULL,
    question_kinds jsonb NOT NULL,
    num_questions  integer NOT NULL,
    documents      jsonb NOT NULL,           -- name, kind, bytes, sha256, passages, error
    generated      integer NOT NULL DEFAULT 0,
    failed         integer NOT NULL DEFAULT 0,
    errors         jsonb NOT NULL DEFAULT '[]'::jsonb,  -- item, kind, documents, message
    batches        integer[] NOT NULL DEFAULT '{}',     -- batches recorded (for resuming)
    usage          jsonb NOT NULL DEFAULT '{}'::jsonb,  -- model calls, tokens, cost
    worker         text,
    reason         text,
    requested_by   text,
    requested_at   timestamptz NOT NULL,
    started_at     timestamptz,
    finished_at    timestamptz
);
CREATE INDEX IF NOT EXISTS generations_dataset_idx ON generations (dataset_id, requested_at DESC);

-- NULL = not generated (written by a person); pending / accepted for generated cases
-- (a rejected case is removed).
ALTER TABLE test_cases ADD COLUMN IF NOT EXISTS review_status text
    CHECK (review_status IN ('pending', 'accepted'));
ALTER TABLE test_cases ADD COLUMN IF NOT EXISTS reviewed_by text;
ALTER TABLE test_cases ADD COLUMN IF NOT EXISTS reviewed_at timestamptz;
ALTER TABLE test_cases ADD COLUMN IF NOT EXISTS review_note text NOT NULL DEFAULT '';
CREATE INDEX IF NOT EXISTS test_cases_review_idx ON test_cases (dataset_id, review_status, position)
    WHERE review_status IS NOT NULL;
