"""``PubSubPullConsumer``: run a bus handler on a Pub/Sub subscription by streaming pull.

Local runs and tests use it (the same handlers Cloud Run serves from ``/pubsub/push``).
A consumer opens ``streams`` streaming pulls on its subscription (several: one stream is
one ordered channel of the server's, and Google's fake delivers at most one message per
stream every 10 ms); ``max_messages``, the most messages handled at once, is shared out
over the streams. Each message is decoded like a push request and handled on the
caller's event loop; success (or ``Duplicate``) acks it, any failure nacks it so Pub/Sub
redelivers (and dead-letters after the subscription's maximum attempts). With message
ordering on, the client library hands a stream's messages of one ordering key over one
at a time, the next once the previous one is acked or nacked.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from dataclasses import dataclass, field
from typing import Any

import structlog
from google.cloud import pubsub_v1
from google.cloud.pubsub_v1.subscriber.scheduler import ThreadScheduler

from .port import BusHandler
from .push import dispatch
from .wire import PoisonMessage, decode_message

log = structlog.get_logger(__name__)


@dataclass
class ConsumerStats:
    received: int = 0
    acked: int = 0
    nacked: int = 0
    poison: int = 0
    delivery_attempts: list[int | None] = field(default_factory=list)


class PubSubPullConsumer:
    """Run ``handler`` (the push endpoint's handler) on a subscription by streaming pull.

    ``stop()`` stops pulling, lets in-flight handlers finish (their acks are sent), nacks
    what was received but not started, and closes the client: call it on SIGTERM.
    """

    def __init__(
        self,
        subscription: str,
        handler: BusHandler,
        *,
        project: str | None = None,
        subscriber: pubsub_v1.SubscriberClient | None = None,
        max_messages: int = 10,
        streams: int = 1,
        types: set[str] | None = None,
        name: str | None = None,
    ) -> None:
        if not subscription.startswith("projects/"):
            if not project:
                raise ValueError("a short subscription name needs project=")
            subscription = f"projects/{project}/subscriptions/{subscription}"
        if streams < 1 or max_messages < 1:
            raise ValueError("streams and max_messages must be at least 1")
        self.subscription = subscription
        self.handler = handler
        self.types = types
        self.name = name or subscription.rsplit("/", 1)[-1]
        self.max_messages = max_messages
        self.streams = streams
        self._subscriber = subscriber
        self._own_subscriber = subscriber is None
        self._futures: list[Any] = []
        self._executors: list[concurrent.futures.ThreadPoolExecutor] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopped = asyncio.Event()
        self._stats_lock = threading.Lock()
        self.stats = ConsumerStats()

    @property
    def running(self) -> bool:
        return any(not f.done() for f in self._futures)

    async def start(self) -> None:
        if self._futures:
            return
        self._loop = asyncio.get_running_loop()
        self._stopped.clear()
        if self._subscriber is None:
            self._subscriber = pubsub_v1.SubscriberClient()
        per_stream = -(-self.max_messages // self.streams)  # at least 1 each
        for i in range(self.streams):
            executor = concurrent.futures.ThreadPoolExecutor(
                max_workers=per_stream, thread_name_prefix=f"pull-{self.name}-{i}")
            self._executors.append(executor)
            self._futures.append(self._subscriber.subscribe(
                self.subscription, self._callback,
                flow_control=pubsub_v1.types.FlowControl(max_messages=per_stream),
                scheduler=ThreadScheduler(executor),
                await_callbacks_on_shutdown=True,
            ))
        for future in self._futures:
            future.add_done_callback(self._on_done)
        log.info("pull_consumer_started", subscription=self.subscription,
                 streams=self.streams)

    def _on_done(self, fut: Any) -> None:
        exc = None if fut.cancelled() else fut.exception()
        if exc is not None:
            log.error("pull_consumer_failed", subscription=self.subscription, error=str(exc))
        loop = self._loop
        if all(f.done() for f in self._futures) and loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._stopped.set)

    def _count(self, outcome: str, poison: bool = False) -> None:
        with self._stats_lock:
            setattr(self.stats, outcome, getattr(self.stats, outcome) + 1)
            if poison:
                self.stats.poison += 1

    def _callback(self, message: Any) -> None:  # runs in the client's thread pool
        with self._stats_lock:
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
            self._count("nacked", poison=True)
            message.nack()
            return
        if self.types is not None and msg.event.type not in self.types:
            self._count("acked")
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
                    self._count("nacked")
                    message.nack()
                    return
        if outcome.acked:
            self._count("acked")
            message.ack()
        else:
            self._count("nacked", poison=outcome.status == 400)
            message.nack()

    async def stop(self, timeout: float = 30.0) -> None:
        futures, self._futures = self._futures, []
        for fut in futures:
            fut.cancel()  # stop pulling; the shutdown threads wait for running callbacks
        if futures:
            await asyncio.gather(*(asyncio.to_thread(f.result, timeout) for f in futures),
                                 return_exceptions=True)
        executors, self._executors = self._executors, []
        for executor in executors:
            executor.shutdown(wait=False)
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
