-- Annotation queues (issue 16): read models of QueueCreated, QueueItemsAdded and
-- QueueItemCompleted.
CREATE TABLE IF NOT EXISTS annotation_queues (
    id          text PRIMARY KEY,
    name        text NOT NULL CONSTRAINT annotation_queues_name_key UNIQUE,
    description text NOT NULL DEFAULT '',
    score_names text[] NOT NULL,
    reviewers   text[] NOT NULL DEFAULT '{}',
    item_count  integer NOT NULL DEFAULT 0,
    done_count  integer NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL,
    created_by  text
);

CREATE TABLE IF NOT EXISTS annotation_queue_items (
    queue_id     text NOT NULL,
    item_id      text NOT NULL,
    position     bigint NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('trace', 'result')),
    trace_id     uuid,
    run_id       text,
    result_id    uuid,
    status       text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done')),
    added_at     timestamptz NOT NULL,
    completed_by text,
    completed_at timestamptz,
    PRIMARY KEY (queue_id, item_id)
);
CREATE INDEX IF NOT EXISTS annotation_queue_items_pending_idx
    ON annotation_queue_items (queue_id, position) WHERE status = 'pending';
