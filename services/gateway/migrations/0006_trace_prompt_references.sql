-- Prompt composition: the versions an app/<name> call's prompt references resolved to
-- ([{ref, prompt_id, prompt_name, id, version, environment, referenced_by, depth}]).
ALTER TABLE gateway_traces ADD COLUMN IF NOT EXISTS prompt_references jsonb;
