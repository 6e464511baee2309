"""Everything a running registry holds: pool, store, command handler, bus, relay."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import structlog

from harness.artifacts import ArtifactStore, artifact_store_from_settings
from harness.bus import InProcessBus, OutboxRelay
from harness.config import get_settings
from harness.db import create_pool
from harness.eventstore import EVENTSTORE_MIGRATIONS, EventStore, migrate
from harness.eventstore.notifier import Notifier
from harness.web.auth import Authenticator

from .commands import CommandHandler
from .resolve_cache import ResolveCache

log = structlog.get_logger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"

# Other services add their migration folders here (namespace, folder).
MIGRATION_SOURCES: list[tuple[str, Path]] = [
    ("eventstore", EVENTSTORE_MIGRATIONS),
    ("registry", MIGRATIONS),
    ("gateway", Path(__file__).parents[1] / "gateway" / "migrations"),
]


async def migrate_all(pool: asyncpg.Pool) -> list[str]:
    async with pool.acquire() as conn:
        return await migrate(conn, MIGRATION_SOURCES)


@dataclass
class Runtime:
    database_url: str
    pool: asyncpg.Pool
    store: EventStore
    commands: CommandHandler
    auth: Authenticator
    bus: InProcessBus
    notifier: Notifier
    artifacts: ArtifactStore
    resolve_cache: ResolveCache = field(default_factory=ResolveCache)
    relay: OutboxRelay | None = None
    tasks: list[asyncio.Task] = field(default_factory=list)
    # True when this process also runs the runs' targets (the local stack): its
    # environment is the runner's, so a target whose provider key is missing is refused
    # when the run is requested. A registry alone (GCP) cannot know the runner's.
    calls_providers: bool = False
    on_keys_changed: list = field(default_factory=list)  # callback(payload: "api"|"gateway")
    webhook_fanout: Any = None  # WebhookFanout, once start_background ran
    webhook_deliverer: Any = None  # WebhookDeliverer, likewise
    score_alerts: Any = None  # ScoreAlertMonitor, likewise

    def keys_changed(self, payload: str) -> None:
        for callback in self.on_keys_changed:
            callback(payload)

    @classmethod
    async def start(cls, database_url: str, *, relay: bool = True, pool_min: int = 2,
                    pool_max: int = 10, artifacts: ArtifactStore | None = None,
                    relay_bus=None) -> Runtime:
        """``relay_bus``: where the outbox relay publishes (default: the in-process bus;
        the registry service passes a Pub/Sub bus)."""
        pool = await create_pool(database_url, min_size=pool_min, max_size=pool_max)
        await migrate_all(pool)
        bootstrap = get_settings().bootstrap_key_sha256
        if bootstrap:
            from harness import apikeys

            if await apikeys.ensure_key_hash(pool, "harness-services", "editor", bootstrap):
                log.info("bootstrap_key_added", name="harness-services")
        store = EventStore(pool)
        notifier = Notifier(database_url)
        await notifier.start()
        rt = cls(database_url=database_url, pool=pool, store=store,
                 commands=CommandHandler(store), auth=Authenticator(pool),
                 bus=InProcessBus(), notifier=notifier,
                 artifacts=artifacts or artifact_store_from_settings(get_settings()))
        notifier.on_notify(rt.resolve_cache.invalidate)
        notifier.on_disconnect(lambda: setattr(rt.resolve_cache, "enabled", False))
        # keys created or revoked by any process: caches of keys are dropped at once
        from harness.apikeys import KEYS_CHANNEL

        await notifier.listen(KEYS_CHANNEL, rt.keys_changed)
        rt.on_keys_changed.append(rt.auth.invalidate)
        notifier.on_disconnect(rt.auth.distrust)
        rt.commands.on_commit.append(rt.resolve_cache.invalidate)
        if relay:
            rt.relay = OutboxRelay(store, relay_bus or rt.bus, listen_url=database_url)
        return rt

    def start_background(self) -> None:
        if self.relay is not None:
            self.tasks.append(asyncio.create_task(self.relay.run(), name="outbox-relay"))
        self.tasks.append(asyncio.create_task(self._gate_watcher().run(), name="gate-watcher"))
        fanout, deliverer = self._webhook_delivery()
        self.tasks.append(asyncio.create_task(fanout.run(), name="webhook-fanout"))
        self.tasks.append(asyncio.create_task(deliverer.run(), name="webhook-deliverer"))
        from .score_alerts import ScoreAlertMonitor

        self.score_alerts = ScoreAlertMonitor(self.pool, self.commands)
        self.commands.on_commit.append(self.score_alerts.on_commit)
        self.tasks.append(asyncio.create_task(self.score_alerts.run(), name="score-alerts"))

    def _webhook_delivery(self):
        """Webhooks from the event store: the fan-out queues deliveries, the deliverer
        sends them and disables a webhook that keeps failing (an event says so)."""
        from harness.events import EventMetadata

        from .domain import webhooks
        from .handlers.webhooks import change
        from .webhooks.deliverer import WebhookDeliverer
        from .webhooks.fanout import WebhookFanout

        async def disable(webhook_id: str, failures: int) -> None:
            await change(self, webhook_id, webhooks.Disable(
                reason=f"{failures} failed delivery attempts in a row", automatic=True,
                failures=failures), EventMetadata(actor="webhook-deliverer"))

        self.webhook_deliverer = WebhookDeliverer(self.pool, disable)
        self.webhook_fanout = WebhookFanout(self.store, on_queued=self.webhook_deliverer.wake,
                                            listen_url=self.database_url)
        return self.webhook_fanout, self.webhook_deliverer

    def _gate_watcher(self):
        """When a gate run completes, re-decide the promotions waiting for it."""
        from harness.events import EventMetadata
        from harness.eventstore import CatchUpSubscription

        from .domain import governance
        from .handlers.governance import govern

        async def on_completed(ev) -> None:
            rows = await self.pool.fetch(
                "SELECT id, prompt_id FROM promotions WHERE gate_run_id = $1 "
                "AND status = 'pending'", ev.data["run_id"])
            for r in rows:
                try:
                    await govern(
                        self, r["prompt_id"], governance.ApplyIfReady(r["id"]),
                        EventMetadata(actor="eval-gate", causation_id=str(ev.event_id)))
                except Exception as exc:  # one bad promotion must not stop the watcher
                    log.warning("gate_apply_failed", promotion_id=r["id"], error=str(exc))

        self._gate_subscription = CatchUpSubscription(
            self.store, "promotion-gate", on_completed, types=["RunCompleted"],
            listen_url=self.database_url)
        return self._gate_subscription

    async def stop(self) -> None:
        if self.relay is not None:
            self.relay.stop()
        if getattr(self, "_gate_subscription", None) is not None:
            self._gate_subscription.stop()
        if self.webhook_fanout is not None:
            self.webhook_fanout.stop()
        if self.webhook_deliverer is not None:
            self.webhook_deliverer.stop()
        if self.score_alerts is not None:
            self.score_alerts.stop()
        for t in self.tasks:
            t.cancel()
        for t in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        await self.notifier.stop()
        await self.pool.close()
