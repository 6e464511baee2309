-- Issue 16: an evaluator's reference score for judge-vs-human agreement, and score alerts
-- (read models of ScoreAlertCreated / ScoreAlertDeleted / ScoreAlertFired, plus the
-- tables beside them).
ALTER TABLE evaluators ADD COLUMN IF NOT EXISTS human_score text;

CREATE TABLE IF NOT EXISTS score_alerts (
    id             text PRIMARY KEY,
    name           text,
    score_name     text NOT NULL,
    evaluator_id   text,
    source         text,
    prompt_id      text,
    prompt_version integer,
    model          text,
    window_minutes integer NOT NULL,
    min_scores     integer NOT NULL,
    threshold      double precision NOT NULL,
    period         text NOT NULL CHECK (period IN ('hour', 'day')),
    created_at     timestamptz NOT NULL,
    created_by     text
);

-- one row per firing (alert, period): the read model of ScoreAlertFired
CREATE TABLE IF NOT EXISTS score_alert_firings (
    alert_id       text NOT NULL,
    period_start   timestamptz NOT NULL,
    mean           double precision NOT NULL,
    count          integer NOT NULL,
    threshold      double precision NOT NULL,
    window_minutes integer NOT NULL,
    fired_at       timestamptz NOT NULL,
    PRIMARY KEY (alert_id, period_start)
);

-- Not read models (a rebuild keeps them): the webhook each alert posts to (an incoming
-- webhook's URL is a credential: never in an event) ...
CREATE TABLE IF NOT EXISTS score_alert_webhooks (
    alert_id text PRIMARY KEY,
    url      text NOT NULL
);

-- ... and the delivery of each firing, claimed per attempt.
CREATE TABLE IF NOT EXISTS score_alert_deliveries (
    alert_id        text NOT NULL,
    period_start    timestamptz NOT NULL,
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz,
    last_status     integer,
    last_error      text,
    PRIMARY KEY (alert_id, period_start)
);

-- the rolling mean of one score name over a recent window
CREATE INDEX IF NOT EXISTS trace_scores_name_time_idx ON trace_scores (name, scored_at);
