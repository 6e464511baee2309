-- Version config (issue 18 item 2): a version's model and LLM options
-- (PromptVersionCreated.config); an application may leave its model, temperature and
-- max_tokens to its version's config (NULL), else the defaults.
ALTER TABLE prompt_versions ADD COLUMN IF NOT EXISTS config jsonb NOT NULL DEFAULT '{}'::jsonb;
ALTER TABLE applications ALTER COLUMN model_id DROP NOT NULL;
ALTER TABLE applications ALTER COLUMN temperature DROP NOT NULL;
ALTER TABLE applications ALTER COLUMN temperature DROP DEFAULT;
ALTER TABLE applications ALTER COLUMN max_tokens DROP NOT NULL;
ALTER TABLE applications ALTER COLUMN max_tokens DROP DEFAULT;
