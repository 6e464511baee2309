-- Signed webhooks (issue 18): subscriptions (the read model of the webhook-<id> streams),
-- their secrets, and the delivery log the deliverer keeps.
CREATE TABLE IF NOT EXISTS webhooks (
    id                     text PRIMARY KEY,
    url                    text NOT NULL,
    event_types            text[] NOT NULL,
    prompt_id              text,
    application_id         text,
    description            text NOT NULL DEFAULT '',
    enabled                boolean NOT NULL DEFAULT true,
    disabled_reason        text,
    disabled_automatically boolean NOT NULL DEFAULT false,
    since_position         bigint NOT NULL,  -- events after this one are delivered
    created_at             timestamptz NOT NULL,
    created_by             text,
    updated_at             timestamptz NOT NULL
);

-- Not read models (a rebuild keeps them), written beside the events:
-- the signing secret of each webhook, never in an event, never in an answer;
CREATE TABLE IF NOT EXISTS webhook_secrets (
    webhook_id text PRIMARY KEY,
    secret     text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- failed attempts in a row (reset by a success or by enabling the webhook);
CREATE TABLE IF NOT EXISTS webhook_health (
    webhook_id           text PRIMARY KEY,
    consecutive_failures integer NOT NULL DEFAULT 0,
    last_success_at      timestamptz,
    last_failure_at      timestamptz
);

-- one delivery per webhook and event (recording it again is a no-op) ...
CREATE TABLE IF NOT EXISTS webhook_deliveries (
    id              bigserial PRIMARY KEY,
    webhook_id      text NOT NULL,
    event_id        uuid NOT NULL,
    global_position bigint NOT NULL,
    event_type      text NOT NULL,
    ordering_key    text NOT NULL,            -- delivered in order within a key
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    claimed_until   timestamptz,              -- a deliverer is sending it until then
    last_status     integer,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz,
    UNIQUE (webhook_id, event_id)
);
CREATE INDEX IF NOT EXISTS webhook_deliveries_queue_idx
    ON webhook_deliveries (webhook_id, ordering_key, global_position) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS webhook_deliveries_log_idx
    ON webhook_deliveries (webhook_id, global_position DESC);

-- ... and each attempt at it.
CREATE TABLE IF NOT EXISTS webhook_attempts (
    delivery_id bigint NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempt     integer NOT NULL,
    at          timestamptz NOT NULL DEFAULT now(),
    status_code integer,
    error       text,
    duration_ms double precision NOT NULL,
    PRIMARY KEY (delivery_id, attempt)
);
