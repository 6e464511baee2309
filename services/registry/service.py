"""The registry as its own service: REST API, outbox relay to the configured bus,
ingestion of worker results (Pub/Sub push at ``/pubsub/push``, or pull locally) and, on
Pub/Sub, the online-evaluation sampler that hands sampled traces to the scorer service
(``online_sampler.py``)."""

from __future__ import annotations

from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI

from harness.bus.topics import TOPICS
from harness.config import Settings, get_settings
from harness.db import resolve_database_url
from harness.events import StoredEvent
from harness.events import registry as event_registry
from harness.events.feedback_events import MAX_SCORE_MAGNITUDE, TraceScored, storable_score
from harness.web.metrics import metrics_router

from .app import create_app
from .runtime import Runtime
from .trace_ingest import trace_ingest_router

log = structlog.get_logger(__name__)

# what workers may report; anything else on the results topic is poison
INGESTIBLE = next(t for t in TOPICS if t.key == "results").event_types or frozenset()


def make_ingest(get_runtime):
    """The results handler: validate a proposed event and append it (its deterministic id
    makes a redelivery a no-op)."""
    from harness.bus.wire import PoisonMessage

    async def ingest(ev: StoredEvent) -> None:
        if ev.type not in INGESTIBLE or not event_registry.knows(ev.type):
            raise PoisonMessage(f"event type {ev.type!r} is not accepted from workers")
        try:
            event = event_registry.decode(ev)
        except Exception as exc:  # a payload that does not validate will never do so
            raise PoisonMessage(f"{ev.type} payload is invalid: {exc}") from exc
        if isinstance(event, TraceScored) and not storable_score(event.value):
            raise PoisonMessage(f"TraceScored value {event.value!r} is beyond "
                                f"{MAX_SCORE_MAGNITUDE:g} in magnitude")
        rt: Runtime = get_runtime()
        await rt.commands.record_facts(ev.stream_id, [event], [ev.event_id], ev.metadata)

    return ingest


def create_registry_service(settings: Settings | None = None) -> FastAPI:
    s = settings or get_settings()
    url = resolve_database_url(s.database_url, s.pgdata_dir)
    holder: dict = {}
    # workers without a database post their traces here; /metrics for Prometheus
    extra = [trace_ingest_router(), metrics_router(keyed=True)]
    pubsub = s.bus == "pubsub"
    if pubsub:
        from harness.bus.oidc import PushTokenVerifier
        from harness.bus.push import push_router

        ingest = make_ingest(lambda: holder["rt"])
        extra.append(push_router(ingest, PushTokenVerifier.from_settings(s)))

    app = create_app(url, extra_routers=extra)
    app_lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(a: FastAPI):
        relay_bus = consumer_bus = None
        if pubsub:
            from harness.bus.pubsub import PubSubBus, ensure_topology

            if s.pubsub_ensure_topology:
                ensure_topology(s.gcp_project, s.topic_prefix,
                                ack_deadline_seconds=s.pubsub_ack_deadline_s)
            relay_bus = PubSubBus.from_settings(
                s, topics=[t for t in TOPICS if t.publisher == "registry"])
            if s.delivery == "pull":
                consumer_bus = PubSubBus.from_settings(s)
                consumer_bus.subscribe("registry", make_ingest(lambda: holder["rt"]))
        rt = await Runtime.start(url, relay_bus=relay_bus, pool_max=s.pool_max_size)
        holder["rt"] = rt
        a.state.runtime = rt
        rt.start_background()
        if pubsub:  # the scorer is its own service: sampled traces go to it as events
            from .online_sampler import TraceSampler

            rt.tasks.append(TraceSampler(rt.pool, rt.commands).start())
        if consumer_bus is not None:
            await consumer_bus.start()
        log.info("registry_service_started", bus=s.bus, delivery=s.delivery)
        try:
            yield
        finally:
            if consumer_bus is not None:
                await consumer_bus.close()
            await rt.stop()
            if relay_bus is not None:
                await relay_bus.close()
            log.info("service_stopped", service="registry")

    app.router.lifespan_context = lifespan
    del app_lifespan
    return app
