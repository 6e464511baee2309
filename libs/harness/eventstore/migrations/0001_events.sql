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
-- The columns come as parallel arrays (one element per event), which is cheaper to
-- decode than a JSON document.
CREATE OR REPLACE FUNCTION harness_append(
    p_stream text, p_expected integer, p_ids uuid[], p_types text[], p_schema integer[],
    p_data jsonb[], p_meta jsonb[])
RETURNS TABLE (global_position bigint, event_id uuid, stream_version integer,
               recorded_at timestamptz)
LANGUAGE plpgsql AS $$
DECLARE
    cur integer;
    keep boolean[];
BEGIN
    PERFORM pg_advisory_xact_lock(72435910);
    SELECT coalesce(max(x.stream_version), 0) INTO cur FROM events x WHERE x.stream_id = p_stream;

    -- Only a retry (stale or no expected version) can carry ids that are stored already,
    -- so the common path skips this look-up.
    IF (p_expected IS NULL OR p_expected <> cur)
       AND EXISTS (SELECT 1 FROM events x WHERE x.event_id = ANY (p_ids)) THEN
        SELECT array_agg(NOT EXISTS (SELECT 1 FROM events x WHERE x.event_id = t.id) ORDER BY t.ord)
          INTO keep FROM unnest(p_ids) WITH ORDINALITY AS t(id, ord);
        IF NOT (true = ANY (keep)) THEN
            RETURN;  -- everything was stored before: a no-op
        END IF;
        SELECT array_agg(t.id ORDER BY t.ord), array_agg(t.ty ORDER BY t.ord),
               array_agg(t.sv ORDER BY t.ord), array_agg(t.d ORDER BY t.ord),
               array_agg(t.m ORDER BY t.ord)
          INTO p_ids, p_types, p_schema, p_data, p_meta
          FROM unnest(p_ids, p_types, p_schema, p_data, p_meta, keep)
               WITH ORDINALITY AS t(id, ty, sv, d, m, k, ord)
         WHERE t.k;
    END IF;

    IF p_expected IS NOT NULL AND p_expected <> cur THEN
        RAISE EXCEPTION 'stream % is at version %, expected %', p_stream, cur, p_expected
            USING ERRCODE = 'HX409', DETAIL = cur::text;
    END IF;

    -- only what the caller does not know yet comes back (not the payloads)
    RETURN QUERY
    INSERT INTO events AS e (event_id, stream_id, stream_version, type, schema_version, data,
                             metadata)
    SELECT t.id, p_stream, cur + t.ord::integer, t.ty, t.sv, t.d, t.m
      FROM unnest(p_ids, p_types, p_schema, p_data, p_meta) WITH ORDINALITY AS t(id, ty, sv, d, m, ord)
    RETURNING e.global_position, e.event_id, e.stream_version, e.recorded_at;

    PERFORM pg_notify('harness_events', p_stream);
END;
$$;
