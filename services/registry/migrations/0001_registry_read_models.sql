-- Read models of the registry: projections of the events table, rebuilt by replay.
CREATE TABLE IF NOT EXISTS prompts (
    id             text PRIMARY KEY,
    name           text NOT NULL,
    description    text NOT NULL DEFAULT '',
    active_version integer,
    latest_version integer NOT NULL DEFAULT 0,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS prompts_name_key ON prompts (lower(name));

CREATE TABLE IF NOT EXISTS prompt_versions (
    id          uuid PRIMARY KEY,
    prompt_id   text NOT NULL REFERENCES prompts (id),
    version     integer NOT NULL CHECK (version > 0),
    content     jsonb NOT NULL,
    variables   jsonb NOT NULL DEFAULT '[]'::jsonb,
    is_active   boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL,
    created_by  text,
    change_note text NOT NULL DEFAULT '',
    UNIQUE (prompt_id, version)
);
-- at most one active version per prompt, enforced by the database too
CREATE UNIQUE INDEX IF NOT EXISTS prompt_versions_one_active
    ON prompt_versions (prompt_id) WHERE is_active;

CREATE TABLE IF NOT EXISTS applications (
    id              text PRIMARY KEY,
    name            text NOT NULL,
    description     text NOT NULL DEFAULT '',
    model_id        text NOT NULL,
    prompt_id       text NOT NULL REFERENCES prompts (id),
    temperature     double precision NOT NULL DEFAULT 0.7,
    max_tokens      integer NOT NULL DEFAULT 1024,
    top_p           double precision,
    fallback_models jsonb NOT NULL DEFAULT '[]'::jsonb,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS applications_name_key ON applications (lower(name));
CREATE INDEX IF NOT EXISTS applications_prompt_idx ON applications (prompt_id);

-- API keys are configuration, not events: only their hashes are stored.
CREATE TABLE IF NOT EXISTS api_keys (
    id         uuid PRIMARY KEY,
    name       text NOT NULL,
    role       text NOT NULL CHECK (role IN ('viewer', 'editor', 'admin')),
    key_hash   text NOT NULL UNIQUE,
    prefix     text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);
