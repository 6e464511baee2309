-- Weighted rollout (issue 18 item 5): an environment split between prompt versions by
-- weight, each request's variant picked by its stickiness key (harness.rollout).
CREATE TABLE IF NOT EXISTS prompt_splits (
    prompt_id    text NOT NULL REFERENCES prompts (id),
    environment  text NOT NULL,
    variants     jsonb NOT NULL,          -- [{"version": int, "weight": number}], in order
    sticky_by    text NOT NULL,           -- user | metadata.<field> | header:<name>
    started_at   timestamptz NOT NULL,
    started_by   text,
    reason       text NOT NULL DEFAULT '',
    promotion_id text,
    PRIMARY KEY (prompt_id, environment)
);

-- A proposal can be a split (its variants and sticky_by).
ALTER TABLE promotions ADD COLUMN IF NOT EXISTS split jsonb;
