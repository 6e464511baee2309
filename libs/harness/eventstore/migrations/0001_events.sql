-- The event store: one append-only table, the outbox of the whole system.
CREATE TABLE IF NOT EXISTS events (
    global_position bigserial PRIMARY KEY,
    event_id        uuid        NOT NULL UNIQUE,
    stream_id       text        NOT NULL,
    stream_version  integer     NOT NULL CHECK (stream_version > 0),
    type            text        NOT NULL,
    schema_version  integer     NOT NULL DEFAULT 1,
    data            jsonb       NOT NULL,
    metadata        jsonb       NOT NULL DEFAULT '{}'::jsonb,
    recorded_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    UNIQUE (stream_id, stream_version)
);

CREATE INDEX IF NOT EXISTS events_type_idx ON events (type, global_position);

-- Named checkpoints of catch-up subscriptions (the outbox relay, projections, consumers).
CREATE TABLE IF NOT EXISTS subscription_checkpoints (
    name       text PRIMARY KEY,
    position   bigint NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Consumers record what they processed, so a redelivered event is a no-op.
CREATE TABLE IF NOT EXISTS processed_events (
    consumer     text NOT NULL,
    event_id     uuid NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);

-- Atomic append with an expected version.
--  * appends are serialised by a transaction-level advisory lock, so global positions
--    become visible in order and a reader following global_position never skips one;
--  * events whose event_id is already stored are skipped (re-append is a no-op);
--  * p_expected NULL = any version; 0 = stream must be new; n = stream must be at n.
--    A mismatch raises SQLSTATE HX409 with the current version in DETAIL.
CREATE OR REPLACE FUNCTION harness_append(p_stream text, p_expected integer, p_events jsonb)
RETURNS SETOF events
LANGUAGE plpgsql AS $$
DECLARE
    cur integer;
    fresh integer;
BEGIN
    PERFORM pg_advisory_xact_lock(72435910);

    SELECT count(*) INTO fresh
      FROM jsonb_array_elements(p_events) AS x
     WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.event_id = (x->>'event_id')::uuid);
    IF fresh = 0 THEN
        RETURN;
    END IF;

    SELECT coalesce(max(e.stream_version), 0) INTO cur FROM events e WHERE e.stream_id = p_stream;
    IF p_expected IS NOT NULL AND p_expected <> cur THEN
        RAISE EXCEPTION 'stream % is at version %, expected %', p_stream, cur, p_expected
            USING ERRCODE = 'HX409', DETAIL = cur::text;
    END IF;

    RETURN QUERY
    INSERT INTO events (event_id, stream_id, stream_version, type, schema_version, data, metadata)
    SELECT (x->>'event_id')::uuid, p_stream, cur + row_number() OVER (ORDER BY ord)::integer,
           x->>'type', coalesce((x->>'schema_version')::integer, 1),
           x->'data', coalesce(x->'metadata', '{}'::jsonb)
      FROM jsonb_array_elements(p_events) WITH ORDINALITY AS t(x, ord)
     WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.event_id = (x->>'event_id')::uuid)
     ORDER BY ord
    RETURNING *;

    PERFORM pg_notify('harness_events', p_stream);
END;
$$;
