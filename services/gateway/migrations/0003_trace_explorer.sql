-- The trace explorer (GET /traces) pages newest first by (created_at, id) and filters by
-- source, model, prompt version and status within a time range: one index per filter,
-- each ending in created_at so a filtered page is an index range in recorded order.
-- (key_id and application already have theirs: 0002.)
CREATE INDEX gateway_traces_page_idx ON gateway_traces (created_at, id);
CREATE INDEX gateway_traces_source_idx ON gateway_traces (source, created_at);
CREATE INDEX gateway_traces_model_idx ON gateway_traces (model_requested, created_at);
CREATE INDEX gateway_traces_answered_idx ON gateway_traces (model_answered, created_at)
    WHERE model_answered IS NOT NULL;
CREATE INDEX gateway_traces_prompt_idx ON gateway_traces (prompt_id, prompt_version, created_at)
    WHERE prompt_id IS NOT NULL;
CREATE INDEX gateway_traces_key_name_idx ON gateway_traces (key_name, created_at)
    WHERE key_name IS NOT NULL;
CREATE INDEX gateway_traces_error_idx ON gateway_traces (created_at) WHERE status >= 400;
