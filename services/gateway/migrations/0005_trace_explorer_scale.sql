-- The trace explorer at a million traces (issue 16, bench/traces.py).
--
-- Free text (GET /traces?q=) is literal, case-insensitive text in the stored (masked)
-- request or response. Where the pg_trgm extension exists, trigram indexes on the two
-- bodies find a rare text without reading every trace; the query keeps the same
-- expressions (read/queries/traces.py) and rechecks each candidate, so results are
-- exactly those of a scan. Without pg_trgm (the embedded PostgreSQL has none) this part is
-- skipped and free text scans the newest traces first.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm') THEN
        BEGIN
            CREATE EXTENSION IF NOT EXISTS pg_trgm;
        EXCEPTION WHEN insufficient_privilege THEN
            RAISE NOTICE 'pg_trgm not created (%): free text in traces is not indexed', SQLERRM;
        END;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
        CREATE INDEX gateway_traces_request_trgm_idx ON gateway_traces
            USING gin ((request::text) gin_trgm_ops);
        CREATE INDEX gateway_traces_response_trgm_idx ON gateway_traces
            USING gin ((response::text) gin_trgm_ops);
    END IF;
END
$$;

-- "Slower than" and "costlier than": a high threshold matches few traces, found here
-- rather than by walking the newest ones.
CREATE INDEX gateway_traces_latency_idx ON gateway_traces (latency_ms);
CREATE INDEX gateway_traces_cost_idx ON gateway_traces (cost_usd) WHERE cost_usd IS NOT NULL;

-- (created_at) is the prefix of the explorer's (created_at, id) (0003), which serves every
-- time-range read as well: one index less to write per trace.
DROP INDEX gateway_traces_created_idx;
