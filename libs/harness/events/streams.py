"""Stream names, spelled in one place: ``<category>-<id>`` (DESIGN.md, Events).

Writers name the stream they append to with these (``streams.run(run_id)``); readers that
react to a stream by its kind ask :func:`category` instead of matching prefixes.
"""

from __future__ import annotations

PROMPT = "prompt"
APPLICATION = "application"
DATASET = "dataset"
RUN = "run"
GENERATION = "generation"
ALERT = "alert"
POLICY = "policy"
SCORE_CONFIG = "score_config"
QUEUE = "queue"
TRACE = "trace"
WEBHOOK = "webhook"
EVALUATOR = "evaluator"
SCORE_ALERT = "score_alert"

GLOBAL_POLICY = f"{POLICY}-global"
"""The stream of the default policy of every prompt without one of its own."""


def prompt(prompt_id: str) -> str:
    return f"{PROMPT}-{prompt_id}"


def application(application_id: str) -> str:
    return f"{APPLICATION}-{application_id}"


def dataset(dataset_id: str) -> str:
    return f"{DATASET}-{dataset_id}"


def run(run_id: str) -> str:
    return f"{RUN}-{run_id}"


def generation(generation_id: str) -> str:
    return f"{GENERATION}-{generation_id}"


def alert(alert_id: str) -> str:
    return f"{ALERT}-{alert_id}"


def score_config(score_config_id: str) -> str:
    return f"{SCORE_CONFIG}-{score_config_id}"


def trace(trace_id: str) -> str:
    """The stream of a stored trace's scores (the trace itself is a row, not events)."""
    return f"{TRACE}-{trace_id}"


def queue(queue_id: str) -> str:
    """An annotation queue's stream."""
    return f"{QUEUE}-{queue_id}"


def webhook(webhook_id: str) -> str:
    return f"{WEBHOOK}-{webhook_id}"


def evaluator(evaluator_id: str) -> str:
    """An online evaluator's stream."""
    return f"{EVALUATOR}-{evaluator_id}"


def score_alert(alert_id: str) -> str:
    """A score alert's stream: created, deleted, and each time it fired."""
    return f"{SCORE_ALERT}-{alert_id}"


def category(stream_id: str) -> str:
    """``run`` for ``run-1f0c…``: what kind of aggregate a stream belongs to."""
    return stream_id.partition("-")[0]


def entity_id(stream_id: str) -> str:
    """``1f0c…`` for ``run-1f0c…``: the id of the aggregate a stream belongs to."""
    return stream_id.partition("-")[2]
