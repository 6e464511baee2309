"""The Pub/Sub adapter of the Bus port, the topology it needs, and a pull consumer.

* ``PubSubBus.publish(event)`` routes a stored event to every topic of ``TOPICS`` whose
  ``event_types`` contain its type (``None`` = all), with the envelope as data (see
  ``wire``), the type / schema version / ids as attributes and the stream id as ordering
  key, and returns only once Pub/Sub accepted every copy: the outbox relay's checkpoint
  never passes an unpublished event. A failed publish is retried a few times
  (``resume_publish`` un-pauses the ordering key first), then raised to the relay, which
  retries from its checkpoint.
* ``PubSubBus.publish_result(...)`` lets workers (runner, scorer, generator) propose result
  events on the ``results`` topic; the registry ingests them.
* ``ensure_topology(...)`` creates topics, dead-letter topics with their pull
  subscriptions, and each consumer's subscription (push when an endpoint is given, else
  pull); it is idempotent.
* ``PubSubPullConsumer`` runs a handler from a streaming pull (local runs and tests: the
  same handlers Cloud Run serves from ``/pubsub/push``), acks on success, nacks on failure,
  and stops gracefully.

The client honours ``PUBSUB_EMULATOR_HOST`` (the local fake, ``make pubsub-fake-run``).
Delivery is at-least-once and, on the fake, unordered: consumers are idempotent (event ids)
and must not rely on order.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import structlog
from google.api_core import exceptions as gexc
from google.cloud import pubsub_v1
from google.cloud.pubsub_v1.subscriber.scheduler import ThreadScheduler
from google.pubsub_v1 import types as pst

from harness.config import Settings
from harness.events import DomainEvent, EventMetadata, StoredEvent

from .port import BusHandler
from .push import PUSH_PATH, dispatch
from .topics import TOPICS, Topic, dead_letter_name, subscription_name, topic_name
from .wire import PoisonMessage, attributes_of, decode_message, encode, envelope_of, result_envelope

log = structlog.get_logger(__name__)

RESULTS_TOPIC = "results"
DEFAULT_ACK_DEADLINE_SECONDS = 60
DEFAULT_MAX_DELIVERY_ATTEMPTS = 5


class PublishError(RuntimeError):
    """Pub/Sub did not accept a message after the configured attempts."""


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
        publisher: pubsub_v1.PublisherClient | None = None,
        publish_timeout: float = 10.0,
        attempts: int = 3,
        retry_backoff: float = 0.2,
        max_latency: float = 0.001,
    ) -> None:
        self.project = project
        self.prefix = prefix
        self.topics = tuple(topics)
        self.publish_timeout = publish_timeout
        self.attempts = max(1, attempts)
        self.retry_backoff = retry_backoff
        self._own_publisher = publisher is None
        self.publisher = publisher or pubsub_v1.PublisherClient(
            batch_settings=pubsub_v1.types.BatchSettings(max_latency=max_latency),
            publisher_options=pubsub_v1.types.PublisherOptions(enable_message_ordering=True),
        )
        self._routes: dict[str, list[tuple[str, bool]]] = {}
        self._consumers: list[PubSubPullConsumer] = []
        self.published = 0

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> PubSubBus:
        if not settings.gcp_project:
            raise ValueError("HARNESS_BUS=pubsub needs GOOGLE_CLOUD_PROJECT (or "
                             "HARNESS_GCP_PROJECT)")
        return cls(settings.gcp_project, prefix=settings.topic_prefix, **kwargs)

    def topic_path(self, key: str) -> str:
        return self.publisher.topic_path(self.project, topic_name(key, self.prefix))

    def routes(self, event_type: str) -> list[tuple[str, bool]]:
        """(topic path, ordered) for each topic an event of this type goes to."""
        routes = self._routes.get(event_type)
        if routes is None:
            routes = [(self.topic_path(t.key), t.ordered) for t in self.topics
                      if t.event_types is None or event_type in t.event_types]
            self._routes[event_type] = routes
        return routes

    async def publish(self, event: StoredEvent) -> None:
        routes = self.routes(event.type)
        if not routes:
            return
        envelope = envelope_of(event)
        data, attrs = encode(envelope), attributes_of(envelope)
        await asyncio.gather(*(self._publish_one(path, data, event.stream_id if ordered else "",
                                                 attrs)
                               for path, ordered in routes))

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
        return await self._publish_one(self.topic_path(RESULTS_TOPIC), encode(envelope),
                                       stream_id, attributes_of(envelope))

    async def _publish_one(self, path: str, data: bytes, key: str,
                           attrs: dict[str, str]) -> str:
        last: BaseException | None = None
        for attempt in range(1, self.attempts + 1):
            try:
                # retry=None: one RPC with our timeout. With ordering on, the client would
                # otherwise retry forever and a dead Pub/Sub would hang the relay.
                fut = self.publisher.publish(path, data, ordering_key=key, retry=None,
                                             timeout=self.publish_timeout, **attrs)
                message_id = await asyncio.wait_for(asyncio.wrap_future(fut),
                                                    self.publish_timeout + 5)
                self.published += 1
                return message_id
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001  (any failure: un-pause and retry)
                last = exc
                # a failed ordered publish pauses its key; later publishes would fail
                with contextlib.suppress(Exception):
                    self.publisher.resume_publish(path, key)
                log.warning("pubsub_publish_failed", topic=path, ordering_key=key,
                            attempt=attempt, error=f"{type(exc).__name__}: {exc}")
                if attempt < self.attempts:
                    await asyncio.sleep(self.retry_backoff * 2 ** (attempt - 1))
        raise PublishError(f"publish to {path} (ordering key {key!r}) failed after "
                           f"{self.attempts} attempts: {last}") from last

    # ---------------------------------------------------------------- pull (local, tests)

    def subscribe(self, name: str, handler: BusHandler, types: set[str] | None = None) -> None:
        """Handle ``name``'s subscriptions (per ``TOPICS`` consumers) by streaming pull.

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
            self._consumers.append(PubSubPullConsumer(path, handler, types=types, name=name))

    async def start(self) -> None:
        for consumer in self._consumers:
            await consumer.start()

    async def close(self, timeout: float = 30.0) -> None:
        """Stop pull consumers gracefully, then flush and stop the publisher."""
        for consumer in self._consumers:
            await consumer.stop(timeout)
        if self._own_publisher:
            await asyncio.to_thread(self.publisher.stop)


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


# -------------------------------------------------------------------------------- pull


@dataclass
class ConsumerStats:
    received: int = 0
    acked: int = 0
    nacked: int = 0
    poison: int = 0
    delivery_attempts: list[int | None] = field(default_factory=list)


class PubSubPullConsumer:
    """Run ``handler`` (the push endpoint's handler) on a subscription by streaming pull.

    Each message is decoded like a push request and handled on the caller's event loop;
    success (or ``Duplicate``) acks it, any failure nacks it so Pub/Sub redelivers (and
    dead-letters after the subscription's maximum attempts). ``stop()`` stops pulling,
    lets in-flight handlers finish (their acks are sent), nacks what was received but not
    started, and closes the client: call it on SIGTERM.
    """

    def __init__(
        self,
        subscription: str,
        handler: BusHandler,
        *,
        project: str | None = None,
        subscriber: pubsub_v1.SubscriberClient | None = None,
        max_messages: int = 10,
        types: set[str] | None = None,
        name: str | None = None,
    ) -> None:
        if not subscription.startswith("projects/"):
            if not project:
                raise ValueError("a short subscription name needs project=")
            subscription = f"projects/{project}/subscriptions/{subscription}"
        self.subscription = subscription
        self.handler = handler
        self.types = types
        self.name = name or subscription.rsplit("/", 1)[-1]
        self.max_messages = max_messages
        self._subscriber = subscriber
        self._own_subscriber = subscriber is None
        self._future: Any = None
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopped = asyncio.Event()
        self.stats = ConsumerStats()

    @property
    def running(self) -> bool:
        return self._future is not None and not self._future.done()

    async def start(self) -> None:
        if self._future is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._stopped.clear()
        if self._subscriber is None:
            self._subscriber = pubsub_v1.SubscriberClient()
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=self.max_messages,
                                            thread_name_prefix=f"pull-{self.name}")
        self._future = self._subscriber.subscribe(
            self.subscription, self._callback,
            flow_control=pubsub_v1.types.FlowControl(max_messages=self.max_messages),
            scheduler=ThreadScheduler(self._executor),
            await_callbacks_on_shutdown=True,
        )
        self._future.add_done_callback(self._on_done)
        log.info("pull_consumer_started", subscription=self.subscription)

    def _on_done(self, fut: Any) -> None:
        exc = None if fut.cancelled() else fut.exception()
        if exc is not None:
            log.error("pull_consumer_failed", subscription=self.subscription, error=str(exc))
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._stopped.set)

    def _callback(self, message: Any) -> None:  # runs in the client's thread pool
        self.stats.received += 1
        self.stats.delivery_attempts.append(message.delivery_attempt)
        try:
            msg = decode_message(
                message.data, message_id=message.message_id,
                attributes=dict(message.attributes), publish_time=message.publish_time,
                delivery_attempt=message.delivery_attempt, subscription=self.subscription,
                ordering_key=message.ordering_key,
            )
        except PoisonMessage as exc:
            log.error("pull_message_malformed", subscription=self.subscription,
                      message_id=message.message_id, error=str(exc),
                      delivery_attempt=message.delivery_attempt)
            self.stats.poison += 1
            self.stats.nacked += 1
            message.nack()
            return
        if self.types is not None and msg.event.type not in self.types:
            self.stats.acked += 1
            message.ack()
            return
        loop = self._loop
        assert loop is not None
        fut = asyncio.run_coroutine_threadsafe(dispatch(msg, self.handler), loop)
        while True:
            try:
                outcome = fut.result(timeout=1.0)
                break
            except concurrent.futures.TimeoutError:
                if loop.is_closed() or not loop.is_running():  # never stop()ped: give up
                    fut.cancel()
                    self.stats.nacked += 1
                    message.nack()
                    return
        if outcome.acked:
            self.stats.acked += 1
            message.ack()
        else:
            if outcome.status == 400:
                self.stats.poison += 1
            self.stats.nacked += 1
            message.nack()

    async def stop(self, timeout: float = 30.0) -> None:
        fut, self._future = self._future, None
        if fut is not None:
            fut.cancel()  # stop pulling; the shutdown thread waits for running callbacks
            with contextlib.suppress(Exception):
                await asyncio.to_thread(fut.result, timeout)
        if self._executor is not None:
            self._executor.shutdown(wait=False)
            self._executor = None
        if self._own_subscriber and self._subscriber is not None:
            with contextlib.suppress(Exception):
                self._subscriber.close()
            self._subscriber = None
        self._stopped.set()
        log.info("pull_consumer_stopped", subscription=self.subscription, **self._counts())

    def _counts(self) -> dict[str, int]:
        s = self.stats
        return {"received": s.received, "acked": s.acked, "nacked": s.nacked,
                "poison": s.poison}

    async def run(self) -> None:
        """Start and wait until stopped (by ``stop()`` or a fatal stream error)."""
        await self.start()
        await self._stopped.wait()
