-- Prompt composition: a version's {{ prompt("name@label") }} references, bound to the
-- referenced prompts' ids when the version was created (PromptVersionCreated.references).
ALTER TABLE prompt_versions ADD COLUMN IF NOT EXISTS refs jsonb NOT NULL DEFAULT '[]'::jsonb;
-- the versions that reference others (a move of an environment looks up its dependents)
CREATE INDEX IF NOT EXISTS prompt_versions_with_refs
    ON prompt_versions (prompt_id) WHERE refs <> '[]'::jsonb;
