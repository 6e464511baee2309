"""The Pub/Sub adapter of the Bus port, the topology it needs, and a pull consumer.

* ``PubSubBus.publish_batch(events)`` (the outbox relay's) and ``publish(event)`` route
  each stored event to every topic of ``TOPICS`` whose ``event_types`` contain its type
  (``None`` = all), with the envelope as data (see ``wire``), the type / schema version /
  ids as attributes and the stream id as ordering key. A batch is published at once (see
  ``publisher``: one request per topic and ordering key, per-key order kept) and the call
  returns only once Pub/Sub accepted every copy, or says how many leading events were
  accepted (``PublishIncomplete``): the relay's checkpoint never passes an unpublished
  event. A failed request is retried a few times, then raised to the relay, which retries
  from its checkpoint.
* ``PubSubBus.publish_result(...)`` lets workers (runner, scorer, generator) propose result
  events on the ``results`` topic; the registry ingests them.
* ``ensure_topology(...)`` creates topics, dead-letter topics with their pull
  subscriptions, and each consumer's subscription (push when an endpoint is given, else
  pull); it is idempotent.
* ``PubSubPullConsumer`` runs a handler from one or more streaming pulls (local runs and
  tests: the same handlers Cloud Run serves from ``/pubsub/push``), acks on success, nacks
  on failure, and stops gracefully.

The clients honour ``PUBSUB_EMULATOR_HOST`` (the local fake, ``make pubsub-fake-run``).
Delivery is at-least-once: consumers are idempotent (event ids). Pub/Sub delivers one
ordering key (stream) in publish order on an ordered subscription and the pull consumer
handles a key's messages one at a time; the fake does not order, so tests never rely on it.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import timedelta
from typing import Any

import structlog
from google.api_core import exceptions as gexc
from google.cloud import pubsub_v1
from google.pubsub_v1 import types as pst

from harness.config import Settings
from harness.events import DomainEvent, EventMetadata, StoredEvent

from .port import BusHandler, PublishIncomplete
from .publisher import KeyedPublisher, PublishError
from .pull import ConsumerStats, PubSubPullConsumer
from .push import PUSH_PATH
from .topics import (
    TOPICS,
    Topic,
    dead_letter_name,
    ordering_key,
    subscription_name,
    topic_name,
)
from .wire import attributes_of, encode, envelope_of, result_envelope

__all__ = ["ConsumerStats", "PubSubBus", "PubSubPullConsumer", "PublishError",
           "PublishIncomplete", "dead_letter_subscription_name", "ensure_topology"]

log = structlog.get_logger(__name__)

RESULTS_TOPIC = "results"
DEFAULT_ACK_DEADLINE_SECONDS = 60
DEFAULT_MAX_DELIVERY_ATTEMPTS = 5


def dead_letter_subscription_name(key: str, prefix: str = "harness-") -> str:
    """The pull subscription on a dead-letter topic: named like the topic itself."""
    return dead_letter_name(key, prefix)


# --------------------------------------------------------------------------- publishing


class PubSubBus:
    """The Bus port on Pub/Sub. ``publish`` for the relay; ``subscribe`` + ``start`` pull."""

    def __init__(
        self,
        project: str,
        *,
        prefix: str = "harness-",
        topics: Iterable[Topic] = TOPICS,
        publish_timeout: float = 10.0,
        attempts: int = 3,
        retry_backoff: float = 0.2,
        pull_streams: int = 1,
        publisher: KeyedPublisher | None = None,
    ) -> None:
        self.project = project
        self.prefix = prefix
        self.topics = tuple(topics)
        self.pull_streams = pull_streams
        self.publisher = publisher or KeyedPublisher(
            timeout=publish_timeout, attempts=attempts, retry_backoff=retry_backoff)
        self._routes: dict[str, list[tuple[str, bool]]] = {}
        self._consumers: list[PubSubPullConsumer] = []
        self.published = 0  # messages Pub/Sub accepted

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> PubSubBus:
        if not settings.gcp_project:
            raise ValueError("HARNESS_BUS=pubsub needs GOOGLE_CLOUD_PROJECT (or "
                             "HARNESS_GCP_PROJECT)")
        kwargs.setdefault("pull_streams", settings.pubsub_pull_streams)
        return cls(settings.gcp_project, prefix=settings.topic_prefix, **kwargs)

    def topic_path(self, key: str) -> str:
        return f"projects/{self.project}/topics/{topic_name(key, self.prefix)}"

    def routes(self, event_type: str) -> list[tuple[str, bool]]:
        """(topic path, ordered) for each topic an event of this type goes to."""
        routes = self._routes.get(event_type)
        if routes is None:
            routes = [(self.topic_path(t.key), t.ordered) for t in self.topics
                      if t.event_types is None or event_type in t.event_types]
            self._routes[event_type] = routes
        return routes

    def _copies(self, event: StoredEvent) -> list[asyncio.Future[str]]:
        """Queue the event on each of its topics; the futures of the message ids."""
        routes = self.routes(event.type)
        if not routes:
            return []
        envelope = envelope_of(event)
        data, attrs = encode(envelope), attributes_of(envelope)
        key = ordering_key(event.stream_id, event.type, event.data)
        return [self.publisher.publish(path, data, key if ordered else "", attrs)
                for path, ordered in routes]

    async def _settle(self, futures: list[asyncio.Future[str]]) -> None:
        await asyncio.gather(*futures, return_exceptions=True)
        self.published += sum(1 for f in futures if f.exception() is None)

    async def publish(self, event: StoredEvent) -> None:
        """Return once Pub/Sub accepted every copy; raise ``PublishError`` if one failed."""
        copies = self._copies(event)
        await self._settle(copies)
        for future in copies:
            if (error := future.exception()) is not None:
                raise error

    async def publish_batch(self, events: Sequence[StoredEvent]) -> None:
        """Publish every copy of every event at once and return when Pub/Sub accepted them
        all. Per stream (ordering key) the order is that of ``events``. When a copy
        failed, raise ``PublishIncomplete`` with how many leading events were accepted."""
        copies = [self._copies(event) for event in events]
        await self._settle([f for fs in copies for f in fs])
        for index, futures in enumerate(copies):
            for future in futures:
                if (error := future.exception()) is not None:
                    raise PublishIncomplete(index, error)

    async def publish_result(
        self,
        stream_id: str,
        event: DomainEvent,
        event_id: uuid.UUID,
        metadata: EventMetadata | Mapping[str, Any] | None = None,
    ) -> str:
        """Propose a result event on the ``results`` topic; returns the message id.

        Use a deterministic ``event_id`` (e.g. ``result_event_id``) so a worker that
        repeats work after a crash proposes the same event, which ingestion ignores.
        """
        topic = next((t for t in self.topics if t.key == RESULTS_TOPIC), None)
        if topic is None:
            raise ValueError(f"no {RESULTS_TOPIC!r} topic in this bus's topology")
        if topic.event_types is not None and event.TYPE not in topic.event_types:
            raise ValueError(f"{event.TYPE} is not a result event (the {RESULTS_TOPIC} topic "
                             f"carries {sorted(topic.event_types)})")
        envelope = result_envelope(stream_id, event.TYPE, event.SCHEMA_VERSION,
                                   event.model_dump(mode="json"), event_id, metadata)
        message_id = await self.publisher.publish(self.topic_path(RESULTS_TOPIC),
                                                  encode(envelope), stream_id,
                                                  attributes_of(envelope))
        self.published += 1
        return message_id

    # ---------------------------------------------------------------- pull (local, tests)

    def subscribe(self, name: str, handler: BusHandler, types: set[str] | None = None, *,
                  max_messages: int | None = None) -> None:
        """Handle ``name``'s subscriptions (per ``TOPICS`` consumers) by streaming pull,
        at most ``max_messages`` at once per subscription (default: the consumer's).

        The consumers start with ``await bus.start()``; the subscriptions must exist
        (``ensure_topology``).
        """
        keys = [t.key for t in self.topics if name in t.consumers]
        if not keys:
            known = sorted({c for t in self.topics for c in t.consumers})
            raise ValueError(f"{name!r} consumes no topic; consumers are {known}")
        for key in keys:
            path = f"projects/{self.project}/subscriptions/" \
                   f"{subscription_name(key, name, self.prefix)}"
            streams = self.pull_streams
            limit = {}
            if max_messages is not None:  # each stream takes at least one
                streams = min(streams, max_messages)
                limit = {"max_messages": max_messages}
            self._consumers.append(PubSubPullConsumer(path, handler, types=types, name=name,
                                                      streams=streams, **limit))

    async def start(self) -> None:
        for consumer in self._consumers:
            await consumer.start()

    async def close(self, timeout: float = 30.0) -> None:
        """Stop pull consumers gracefully, then flush and stop the publisher."""
        for consumer in self._consumers:
            await consumer.stop(timeout)
        await self.publisher.close(timeout)


# ----------------------------------------------------------------------------- topology


def _push_url(url: str) -> str:
    return url if url.rstrip("/").endswith(PUSH_PATH) else url.rstrip("/") + PUSH_PATH


def ensure_topology(
    project: str,
    prefix: str = "harness-",
    push_endpoints: Mapping[str, str] | None = None,
    *,
    push_service_account: str | None = None,
    push_audience: str | None = None,
    ack_deadline_seconds: int = DEFAULT_ACK_DEADLINE_SECONDS,
    max_delivery_attempts: int = DEFAULT_MAX_DELIVERY_ATTEMPTS,
    minimum_backoff: timedelta = timedelta(seconds=10),
    maximum_backoff: timedelta = timedelta(seconds=600),
    topics: Iterable[Topic] = TOPICS,
    publisher: pubsub_v1.PublisherClient | None = None,
    subscriber: pubsub_v1.SubscriberClient | None = None,
) -> dict[str, list[str]]:
    """Create every topic, dead-letter topic and subscription; existing ones are kept.

    ``push_endpoints`` maps a consumer (``runner``, ``registry``, ...) to its service URL
    (``/pubsub/push`` is appended when missing); its subscriptions are then push
    subscriptions, with an OIDC token for ``push_service_account`` (audience
    ``push_audience``, default the endpoint URL) when given. Consumers without an
    endpoint get pull subscriptions. An existing subscription whose push endpoint differs
    is updated; other settings of existing resources are left alone.

    Every subscription sets ``ack_deadline_seconds`` (the fake rejects 0), a dead-letter
    policy (``max_delivery_attempts``) to ``<topic>-dead-letter``, a retry policy
    (exponential backoff), message ordering as the topic says, and no expiry. On GCP the
    Pub/Sub service agent also needs publisher on the dead-letter topics and subscriber
    on the source subscriptions (Terraform grants them).

    Returns ``{"created": [...], "existing": [...], "updated": [...]}`` resource names.
    """
    push_endpoints = dict(push_endpoints or {})
    pub = publisher or pubsub_v1.PublisherClient()
    sub = subscriber or pubsub_v1.SubscriberClient()
    report: dict[str, list[str]] = {"created": [], "existing": [], "updated": []}

    def make_topic(name: str) -> str:
        path = pub.topic_path(project, name)
        try:
            pub.create_topic(request={"name": path})
            report["created"].append(path)
        except gexc.AlreadyExists:
            report["existing"].append(path)
        return path

    def make_subscription(spec: pst.Subscription) -> None:
        try:
            sub.create_subscription(request=spec)
            report["created"].append(spec.name)
            return
        except gexc.AlreadyExists:
            pass
        current = sub.get_subscription(request={"subscription": spec.name})
        if current.push_config.push_endpoint != spec.push_config.push_endpoint:
            sub.update_subscription(request={
                "subscription": pst.Subscription(name=spec.name, push_config=spec.push_config),
                "update_mask": {"paths": ["push_config"]},
            })
            report["updated"].append(spec.name)
        else:
            report["existing"].append(spec.name)

    try:
        for topic in topics:
            t_path = make_topic(topic_name(topic.key, prefix))
            dl_path = make_topic(dead_letter_name(topic.key, prefix))
            make_subscription(pst.Subscription(
                name=sub.subscription_path(project,
                                           dead_letter_subscription_name(topic.key, prefix)),
                topic=dl_path,
                ack_deadline_seconds=ack_deadline_seconds,
                message_retention_duration=timedelta(days=7),
                expiration_policy=pst.ExpirationPolicy(),
            ))
            for consumer in topic.consumers:
                push = pst.PushConfig()
                if consumer in push_endpoints:
                    url = _push_url(push_endpoints[consumer])
                    push = pst.PushConfig(push_endpoint=url)
                    if push_service_account:
                        push.oidc_token = pst.PushConfig.OidcToken(
                            service_account_email=push_service_account,
                            audience=push_audience or url)
                make_subscription(pst.Subscription(
                    name=sub.subscription_path(project,
                                               subscription_name(topic.key, consumer, prefix)),
                    topic=t_path,
                    push_config=push,
                    ack_deadline_seconds=ack_deadline_seconds,
                    enable_message_ordering=topic.ordered,
                    dead_letter_policy=pst.DeadLetterPolicy(
                        dead_letter_topic=dl_path, max_delivery_attempts=max_delivery_attempts),
                    retry_policy=pst.RetryPolicy(minimum_backoff=minimum_backoff,
                                                 maximum_backoff=maximum_backoff),
                    expiration_policy=pst.ExpirationPolicy(),
                ))
    finally:
        if subscriber is None:
            sub.close()
        if publisher is None:
            pub.stop()
    return report
