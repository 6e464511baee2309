-- One trace per unit of work: the OpenTelemetry trace and span a stored call happened in
-- (a gateway request's span, continuing the caller's traceparent; a run's case), lowercase
-- hex, so that work done later on it (an online evaluation) nests under it.
ALTER TABLE gateway_traces ADD COLUMN IF NOT EXISTS otel_trace_id text;
ALTER TABLE gateway_traces ADD COLUMN IF NOT EXISTS otel_span_id text;
