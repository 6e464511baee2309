-- Governed promotion: environments, policies, proposals, lineage, approver role.
ALTER TABLE prompt_versions ADD COLUMN IF NOT EXISTS derived_from integer;
ALTER TABLE applications ADD COLUMN IF NOT EXISTS environment text NOT NULL DEFAULT 'production';

CREATE TABLE IF NOT EXISTS prompt_environments (
    prompt_id   text NOT NULL REFERENCES prompts (id),
    environment text NOT NULL,
    version     integer NOT NULL,
    moved_at    timestamptz NOT NULL,
    moved_by    text,
    reason      text NOT NULL DEFAULT '',
    PRIMARY KEY (prompt_id, environment)
);

CREATE TABLE IF NOT EXISTS prompt_policies (
    scope      text PRIMARY KEY,          -- a prompt id, or '*' for the global default
    policy     jsonb NOT NULL,
    updated_at timestamptz NOT NULL,
    updated_by text
);

CREATE TABLE IF NOT EXISTS promotions (
    id          text PRIMARY KEY,
    prompt_id   text NOT NULL REFERENCES prompts (id),
    version     integer NOT NULL,
    environment text NOT NULL,
    status      text NOT NULL,
    reason      text NOT NULL DEFAULT '',
    proposed_by text,
    proposed_at timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    gate_run_id text,
    decided_by  text,
    decided_at  timestamptz,
    comment     text NOT NULL DEFAULT '',
    gate        jsonb
);
CREATE INDEX IF NOT EXISTS promotions_prompt_idx ON promotions (prompt_id, proposed_at DESC);
CREATE INDEX IF NOT EXISTS promotions_gate_run_idx ON promotions (gate_run_id);

ALTER TABLE api_keys DROP CONSTRAINT IF EXISTS api_keys_role_check;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_role_check
    CHECK (role IN ('viewer', 'editor', 'approver', 'admin'));
