-- Online evaluators (issue 16 item 3): the read model of EvaluatorCreated, EvaluatorChanged,
-- EvaluatorPaused and EvaluatorResumed.
CREATE TABLE IF NOT EXISTS evaluators (
    id            text PRIMARY KEY,
    name          text NOT NULL CONSTRAINT evaluators_name_key UNIQUE,
    description   text NOT NULL DEFAULT '',
    assertion     jsonb,
    metric        text,
    traffic       jsonb NOT NULL DEFAULT '{}',
    sampling_rate double precision NOT NULL,
    judge_model   text,
    status        text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused')),
    created_at    timestamptz NOT NULL,
    created_by    text,
    updated_at    timestamptz NOT NULL
);
