-- Which shard recorded a result (CaseResultRecorded.shard), so a shard's runner reads only
-- its own recorded keys (GET /runs/{id}/recorded?shard=N) instead of the whole run's.
ALTER TABLE run_results ADD COLUMN IF NOT EXISTS shard integer;
CREATE INDEX IF NOT EXISTS run_results_run_shard ON run_results (run_id, shard);
