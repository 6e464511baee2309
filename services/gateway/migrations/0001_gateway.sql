-- Gateway keys: hashed secrets scoped to applications/models, with limits and budgets.
CREATE TABLE gateway_keys (
    id               uuid PRIMARY KEY,
    name             text NOT NULL,
    key_hash         text NOT NULL UNIQUE,
    prefix           text NOT NULL,
    applications     text[],            -- NULL = every application
    models           text[],            -- NULL = every model and alias
    rpm              integer,           -- requests per minute, NULL = unlimited
    budget_day_usd   numeric(18, 8),    -- NULL = no daily budget
    budget_month_usd numeric(18, 8),    -- NULL = no monthly budget
    pii_policy       text NOT NULL DEFAULT 'mask' CHECK (pii_policy IN ('off', 'mask', 'block')),
    created_at       timestamptz NOT NULL DEFAULT now(),
    revoked_at       timestamptz
);

-- Requests per key per minute (one upsert per request; old minutes are pruned).
CREATE TABLE gateway_rate (
    key_id  uuid NOT NULL,
    minute  timestamptz NOT NULL,
    n       integer NOT NULL,
    PRIMARY KEY (key_id, minute)
);

-- Spend per key and period: reserved (in flight, worst case) and spent (settled).
CREATE TABLE gateway_spend (
    key_id       uuid NOT NULL,
    period       text NOT NULL CHECK (period IN ('day', 'month')),
    period_start date NOT NULL,
    limit_usd    numeric(18, 8) NOT NULL,
    reserved_usd numeric(18, 8) NOT NULL DEFAULT 0,
    spent_usd    numeric(18, 8) NOT NULL DEFAULT 0,
    PRIMARY KEY (key_id, period, period_start),
    CHECK (reserved_usd >= 0)
);

-- Every call, partitioned by day; partitions are created on demand and dropped after the
-- retention period.
CREATE TABLE gateway_traces (
    id                 uuid NOT NULL,
    created_at         timestamptz NOT NULL,
    kind               text NOT NULL,          -- chat | embeddings
    key_id             uuid,
    key_name           text,
    application        text,
    prompt_id          text,
    prompt_version     integer,
    model_requested    text NOT NULL,
    model_answered     text,
    stream             boolean NOT NULL DEFAULT false,
    status             integer NOT NULL,
    error              text,
    latency_ms         double precision NOT NULL,
    ttft_ms            double precision,
    prompt_tokens      integer,
    completion_tokens  integer,
    cost_usd           numeric(18, 10),        -- NULL = price unknown (never a silent 0)
    attempts           integer,
    pii_action         text,
    request            jsonb,
    response           jsonb,
    PRIMARY KEY (id, created_at)
) PARTITION BY RANGE (created_at);

CREATE INDEX gateway_traces_created_idx ON gateway_traces (created_at);

-- Cost alerts: thresholds per key, application or total, per day or month.
CREATE TABLE gateway_alerts (
    id           uuid PRIMARY KEY,
    scope        text NOT NULL CHECK (scope IN ('key', 'app', 'total')),
    target       text,                      -- key id or application name; NULL for total
    period       text NOT NULL CHECK (period IN ('day', 'month')),
    threshold_usd numeric(18, 8) NOT NULL,
    webhook_url  text,
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- One row per alert and period once it fired (the primary key makes it fire once).
CREATE TABLE gateway_alert_firings (
    alert_id     uuid NOT NULL REFERENCES gateway_alerts (id) ON DELETE CASCADE,
    period_start date NOT NULL,
    fired_at     timestamptz NOT NULL DEFAULT now(),
    spent_usd    numeric(18, 8) NOT NULL,
    delivered    boolean NOT NULL DEFAULT false,
    PRIMARY KEY (alert_id, period_start)
);
