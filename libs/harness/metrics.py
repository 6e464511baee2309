"""Prometheus metrics of every service, on one registry per process.

Every family is named ``harness_<service>_<what>_<unit>`` (``_total`` for counters,
``_seconds`` for durations, histograms for latencies) and lives on :data:`REGISTRY`, which
:func:`exposition` renders: each deployable serves it at ``/metrics``, and ``harness up``
(every service in one process) serves it once. Labels are bounded sets only (event types,
stream categories, model names, metric names, prompt names and versions): never an id.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable
from datetime import UTC, datetime

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

# no ``*_created`` series beside every counter and histogram: twice the series for a
# timestamp no dashboard reads
disable_created_metrics()
REGISTRY = CollectorRegistry(auto_describe=True)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

FAST = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)
SLOW = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
LAG = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900)
UNIT = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


def exposition() -> bytes:
    """Every metric of this process in the Prometheus text format."""
    return generate_latest(REGISTRY)


# Text rendered outside REGISTRY (the gateway's own counters), for the loopback metrics
# listener (``harness.metrics_listener``): weak references, so a stopped gateway drops out.
_text_sources: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def add_text_source(owner: object, render: Callable[[object], bytes]) -> None:
    """``render(owner)`` is part of every :func:`scrape` while ``owner`` lives."""
    _text_sources[owner] = render


def scrape() -> bytes:
    """What this process's public ``/metrics`` serves: the text sources, then REGISTRY."""
    return b"".join(render(owner) for owner, render in list(_text_sources.items())) \
        + exposition()


def _counter(name, doc, labels=()):
    return Counter(name, doc, list(labels), registry=REGISTRY)


def _gauge(name, doc, labels=()):
    return Gauge(name, doc, list(labels), registry=REGISTRY)


def _histogram(name, doc, labels=(), buckets=SLOW):
    return Histogram(name, doc, list(labels), buckets=buckets, registry=REGISTRY)


def seconds_since(when: datetime | None) -> float:
    if when is None:
        return 0.0
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (datetime.now(UTC) - when).total_seconds())


# ---------------------------------------------------------------- registry

registry_commands = _counter(
    "harness_registry_commands_total",
    "Commands by aggregate (stream category), kind (decide | facts) and outcome "
    "(ok | noop | rejected | conflict | busy | error).", ("aggregate", "kind", "outcome"))
registry_command_seconds = _histogram(
    "harness_registry_command_duration_seconds",
    "Command latency: lock, load, decide, append and project.", ("aggregate", "kind"), FAST)
registry_append_seconds = _histogram(
    "harness_registry_append_duration_seconds", "Event store append latency.", (), FAST)
registry_events_appended = _counter(
    "harness_registry_events_appended_total", "Events stored, by type.", ("type",))
registry_projection_lag_seconds = _histogram(
    "harness_registry_projection_lag_seconds",
    "From an event's recorded_at to its projection into the read models.", (), FAST)
registry_sse_subscribers = _gauge(
    "harness_registry_sse_subscribers", "Open Server-Sent Events streams (/events/stream).")
registry_online_feed_behind_seconds = _gauge(
    "harness_registry_online_feed_behind_seconds",
    "Online evaluation (the registry's sampler): age of the oldest stored trace it has not "
    "read yet, 0 when caught up (grows while sampling lags or a long transaction on the "
    "server holds the trace feed back).")


class _Subscriptions(Collector):
    """Lag of every catch-up subscription (the outbox relay is ``outbox-relay``): events
    behind the newest position this process has seen, and the age of the oldest event it
    handled last (0 once caught up)."""

    def __init__(self) -> None:
        self.head = 0
        self.live: weakref.WeakSet = weakref.WeakSet()

    def saw(self, position: int) -> None:
        if position > self.head:
            self.head = position

    def collect(self):
        events = GaugeMetricFamily(
            "harness_registry_subscription_lag_events",
            "Events a subscription is behind the store's head.", labels=["subscription"])
        seconds = GaugeMetricFamily(
            "harness_registry_subscription_lag_seconds",
            "Age of the oldest event a subscription handled last (0 when caught up).",
            labels=["subscription"])
        for sub in list(self.live):
            events.add_metric([sub.name], max(0, self.head - sub.position))
            seconds.add_metric([sub.name], getattr(sub, "lag_seconds", 0.0))
        yield events
        yield seconds
        head = GaugeMetricFamily("harness_registry_head_position",
                                 "The newest global position this process has seen.")
        head.add_metric([], self.head)
        yield head


subscriptions = _Subscriptions()
REGISTRY.register(subscriptions)

# ---------------------------------------------------------------- bus

bus_published = _counter(
    "harness_bus_published_total", "Events the bus accepted, by event type.", ("type",))
bus_delivered = _counter(
    "harness_bus_delivered_total",
    "Deliveries to a subscription, by outcome (ok | duplicate | rejected | error).",
    ("subscription", "outcome"))
bus_redelivered = _counter(
    "harness_bus_redelivered_total", "Deliveries after a first failed attempt.",
    ("subscription",))
bus_dead_lettered = _counter(
    "harness_bus_dead_lettered_total",
    "Messages failed on their last delivery attempt (Pub/Sub forwards them to the "
    "dead-letter topic).", ("subscription",))
bus_consumer_lag_seconds = _histogram(
    "harness_bus_consumer_lag_seconds",
    "From publish (or the event's recorded_at) to its delivery.", ("subscription",), LAG)


def bus_subscription(name: str) -> str:
    """A subscription's short name: ``harness-runner`` for
    ``projects/p/subscriptions/harness-runner``."""
    return (name or "unknown").rsplit("/", 1)[-1]


def bus_subscribed(name: str) -> None:
    """Every series of a subscription exists (at 0) from the start."""
    name = bus_subscription(name)
    bus_redelivered.labels(name)
    bus_dead_lettered.labels(name)
    for outcome in ("ok", "error"):
        bus_delivered.labels(name, outcome)


# ---------------------------------------------------------------- workers

runner_runs = _counter(
    "harness_runner_runs_total", "Run shards this runner took, by outcome (started | "
    "completed | failed | cancelled): a run is one or more shards.", ("outcome",))
runner_runs_in_flight = _gauge("harness_runner_runs_in_flight",
                               "Run shards executing now.")
runner_cases_in_flight = _gauge("harness_runner_cases_in_flight", "Cases evaluating now.")
runner_case_results = _counter(
    "harness_runner_case_results_total",
    "Case results by status (pass | fail | error) and prompt version: rate() is cases/s.",
    ("status", "prompt", "prompt_version"))
runner_case_score = _histogram(
    "harness_runner_case_score", "Case scores (0..1) by prompt version.",
    ("prompt", "prompt_version"), UNIT)
runner_case_seconds = _histogram(
    "harness_runner_case_duration_seconds", "One case: render, call, assert.", (), SLOW)

scorer_runs = _counter("harness_scorer_runs_total", "Scoring runs by outcome.", ("outcome",))
scorer_scores = _counter(
    "harness_scorer_scores_total", "Scores recorded by metric and status (ok | error).",
    ("metric", "status"))
scorer_score = _histogram("harness_scorer_score", "Score values (0..1) by metric.",
                          ("metric",), UNIT)
scorer_judge_errors = _counter(
    "harness_scorer_judge_errors_total", "Scores that failed (judge or metric error).",
    ("metric",))
online_score_mean = _gauge(
    "harness_scorer_online_score_mean",
    "Online evaluation: mean of an evaluator's latest scores (up to 100), by evaluator name.",
    ("evaluator",))
online_scores = _counter(
    "harness_scorer_online_scores_total",
    "Online evaluation: traces scored by evaluator name and status (ok | error).",
    ("evaluator", "status"))
scorer_lag_seconds = _histogram(
    "harness_scorer_lag_seconds", "From RunCompleted recorded to scoring started.", (), LAG)

generator_generations = _counter(
    "harness_generator_generations_total", "Generations by outcome (started | completed | "
    "failed).", ("outcome",))
generator_cases = _counter(
    "harness_generator_cases_generated_total", "Synthetic cases generated.")
generator_in_flight = _gauge("harness_generator_generations_in_flight",
                             "Generations executing now.")

# ---------------------------------------------------------------- LLM calls of the workers

llm_requests = _counter(
    "harness_runner_llm_requests_total",
    "LLM calls of the workers by model and outcome (ok | cached | error).",
    ("model", "outcome"))
llm_errors = _counter("harness_runner_llm_errors_total", "Failed LLM calls by model and kind.",
                      ("model", "kind"))
llm_seconds = _histogram("harness_runner_llm_request_duration_seconds",
                         "LLM call latency by model.", ("model",), SLOW)
llm_tokens = _counter("harness_runner_llm_tokens_total", "Tokens by model and type.",
                      ("model", "type"))
llm_cost = _counter("harness_runner_llm_cost_usd_total", "Known cost in USD by model.",
                    ("model",))


class LLMCallMetrics:
    """``LLMClient(observers=[LLMCallMetrics()])``: every worker call counted by model."""

    def __call__(self, call) -> None:
        resp = call.response
        model = (resp.model if resp is not None and resp.model else call.request.model) or ""
        llm_seconds.labels(model).observe(call.latency_ms / 1000.0)
        if call.error is not None or resp is None:
            llm_requests.labels(model, "error").inc()
            llm_errors.labels(model, getattr(call.error, "kind", "error")).inc()
            return
        llm_requests.labels(model, "cached" if resp.cached else "ok").inc()
        if resp.prompt_tokens:
            llm_tokens.labels(model, "prompt").inc(resp.prompt_tokens)
        if resp.completion_tokens:
            llm_tokens.labels(model, "completion").inc(resp.completion_tokens)
        if resp.cost_usd:
            llm_cost.labels(model).inc(resp.cost_usd)


# ---------------------------------------------------------------- gateway (beside its own)

gateway_budget_rejections = _counter(
    "harness_gateway_budget_rejections_total",
    "Requests refused by a key's budget (exceeded | price-unknown).", ("reason",))
gateway_pii_detections = _counter(
    "harness_gateway_pii_detections_total", "PII found in requests, by kind.", ("kind",))
gateway_cache = _counter(
    "harness_gateway_cache_requests_total",
    "Cache lookups by cache (llm | application) and result (hit | miss).",
    ("cache", "result"))


class Timer:
    """``with Timer() as t: ...``; ``t.seconds`` afterwards."""

    def __enter__(self) -> Timer:
        self.start = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self.start
