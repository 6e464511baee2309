"""The Pub/Sub topology: one place that names every topic and who publishes and consumes
it. The Terraform in ``infra/terraform`` mirrors this table (a test checks they agree).

- ``registry-events``: every registry event, from the registry's outbox relay, for
  downstream apps (each app makes its own subscription).
- ``runs``: RunRequested, RunShardRequested, RunCancelled, from the registry → runner
  ``/pubsub/push``.
- ``results``: RunStarted, CaseResultRecorded, RunCompleted, RunFailed, ScoresRecorded,
  TraceScored, GenerationStarted, CasesGenerated, GenerationCompleted, GenerationFailed,
  from runner, scorer and generator → registry ``/pubsub/push`` (ingestion).
- ``scoring``: RunCompleted of runs that asked for metrics, RunScoringShardRequested (a
  completed run's scoring work items, one per runner shard), and TraceSampled (a stored
  trace an online evaluator picked, from the registry's sampler), from the registry →
  scorer.
- ``generation``: GenerationRequested, GenerationCancelled, from the registry → generator.

Each topic has a dead-letter topic ``<topic>-dead-letter`` with its own pull subscription.
Message attributes: ``type``, ``schema_version``, ``event_id``, ``stream_id``; the ordering
key is the stream id, except for work items meant to be taken in parallel (a run's
shards: see :func:`ordering_key`). Names get the ``HARNESS_TOPIC_PREFIX`` (default ``harness-``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Topic:
    key: str
    event_types: frozenset[str] | None  # None = every event
    publisher: str
    consumers: tuple[str, ...]
    ordered: bool = True


TOPICS: tuple[Topic, ...] = (
    Topic("registry-events", None, "registry", ()),
    Topic("runs", frozenset({"RunRequested", "RunShardRequested", "RunCancelled"}), "registry",
          ("runner",)),
    Topic("results", frozenset({"RunStarted", "CaseResultRecorded", "RunCompleted", "RunFailed",
                                "ScoresRecorded", "TraceScored", "GenerationStarted",
                                "CasesGenerated", "GenerationCompleted", "GenerationFailed"}),
          "runner", ("registry",)),
    Topic("scoring", frozenset({"RunCompleted", "RunScoringShardRequested", "TraceSampled"}),
          "registry", ("scorer",)),
    Topic("generation", frozenset({"GenerationRequested", "GenerationCancelled"}), "registry",
          ("generator",)),
)

SERVICES = ("registry", "runner", "scorer", "generator", "gateway", "studio")


PARALLEL_WORK = {"RunShardRequested": "shard", "RunScoringShardRequested": "shard"}
"""Event types whose messages must not wait for each other: with message ordering, Pub/Sub
hands a subscriber one message per ordering key at a time, so a run's shards (or its
scoring shards) under the run's key would run one after the other. Each gets
``<stream id>/<field value>``."""


def ordering_key(stream_id: str, event_type: str, data: dict) -> str:
    field = PARALLEL_WORK.get(event_type)
    return stream_id if field is None else f"{stream_id}/{data.get(field)}"


def topic_name(key: str, prefix: str = "harness-") -> str:
    return f"{prefix}{key}"


def dead_letter_name(key: str, prefix: str = "harness-") -> str:
    return f"{prefix}{key}-dead-letter"


def subscription_name(key: str, consumer: str, prefix: str = "harness-") -> str:
    return f"{prefix}{key}-{consumer}"
