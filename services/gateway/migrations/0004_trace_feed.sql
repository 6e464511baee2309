-- Online evaluation (issue 16 item 3) reads traces as they are written: each row keeps the
-- id of the transaction that wrote it, and a reader takes rows of transactions older than
-- every one still running (pg_snapshot_xmin), in (written_xid, id) order, from a
-- checkpoint. Rows written before this migration have none and are never fed.
-- (No rewrite: the column is added without a default, then the default is set.)
ALTER TABLE gateway_traces ADD COLUMN written_xid xid8;
ALTER TABLE gateway_traces ALTER COLUMN written_xid SET DEFAULT pg_current_xact_id();
CREATE INDEX gateway_traces_written_idx ON gateway_traces (written_xid, id)
    WHERE written_xid IS NOT NULL;

-- Where each trace reader is: the last (transaction, trace id) it finished.
CREATE TABLE trace_feed_checkpoints (
    name       text PRIMARY KEY,
    xid        xid8 NOT NULL,
    trace_id   uuid NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
