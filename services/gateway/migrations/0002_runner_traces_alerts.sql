-- Runner calls are traced into the same table: where a trace comes from, its run, and
-- whether the answer came from the response cache.
ALTER TABLE gateway_traces
    ADD COLUMN source text NOT NULL DEFAULT 'gateway'
        CHECK (source IN ('gateway', 'runner', 'scorer', 'generator')),
    ADD COLUMN run_id text,
    ADD COLUMN cached boolean NOT NULL DEFAULT false;

-- Spend per key or application in a period (cost alerts, usage by key/app).
CREATE INDEX gateway_traces_key_idx ON gateway_traces (key_id, created_at);
CREATE INDEX gateway_traces_app_idx ON gateway_traces (application, created_at);
CREATE INDEX gateway_traces_run_idx ON gateway_traces (run_id) WHERE run_id IS NOT NULL;

-- Cost alerts: a name, and key/app targets checked per scope.
ALTER TABLE gateway_alerts
    ADD COLUMN name text,
    ADD CONSTRAINT gateway_alerts_target_ck
        CHECK ((scope = 'total') = (target IS NULL));

-- A firing is claimed once per alert and period by its primary key (alert_id,
-- period_start): concurrent checkers race on the INSERT and only the winner records the
-- event and posts the webhook. Delivery is retried from here until it succeeds.
ALTER TABLE gateway_alert_firings
    ADD COLUMN threshold_usd numeric(18, 8),
    ADD COLUMN event_recorded boolean NOT NULL DEFAULT false,
    ADD COLUMN attempts integer NOT NULL DEFAULT 0,
    ADD COLUMN next_attempt_at timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN last_error text;
