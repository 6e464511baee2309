-- Snapshots of aggregates' states, so deciding a command reads only the events after one.
-- A row is the state of `aggregate` folded from `stream_id` up to `stream_version`, in the
-- shape `schema_version` of that state; a reader that expects another shape ignores it and
-- folds the stream (then writes a new one). Derived data: deleting rows loses nothing.
CREATE TABLE IF NOT EXISTS snapshots (
    stream_id      text        NOT NULL,
    aggregate      text        NOT NULL,
    schema_version integer     NOT NULL,
    stream_version integer     NOT NULL,
    state          jsonb       NOT NULL,
    recorded_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (stream_id, aggregate)
);
