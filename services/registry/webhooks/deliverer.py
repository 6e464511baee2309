"""The deliverer: posts due deliveries, signed, and records what happened.

Each round claims the deliveries that may go now (the first pending one of each webhook
and stream, once its retry time has come) up to the free slots, and sends each in its own
task. A success delivers it (the next one of its stream becomes due); a failure schedules
a retry after an exponentially growing wait; a webhook whose attempts failed
``max_failures`` times in a row is disabled through its command (an event says so).
Claims are leases in the database, so several registry processes share the work and a
delivery held by a process that died is tried again after the lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable

import asyncpg
import httpx
import structlog

from harness.webhooks.signing import SIGNATURE_HEADER, signature_header

from ..domain import webhooks as domain
from . import sender, store
from .settings import DeliverySettings

log = structlog.get_logger(__name__)

Disable = Callable[[str, int], Awaitable[None]]
"""``disable(webhook_id, failures)``: record that a webhook is given up on."""


class WebhookDeliverer:
    def __init__(self, pool: asyncpg.Pool, disable: Disable) -> None:
        self.pool = pool
        self.disable = disable
        self.attempts = 0  # attempts made by this deliverer (tests and logs)
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()
        self._in_flight: set[asyncio.Task] = set()
        self._http: httpx.AsyncClient | None = None

    def wake(self) -> None:
        """New deliveries were queued: look now rather than at the next poll."""
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    async def run(self) -> None:
        self._http = sender.client()
        try:
            while not self._stop.is_set():
                self._wake.clear()  # a wake from now on ends the sleep below at once
                settings = DeliverySettings.current()
                try:
                    claimed = await self._start_due(settings)
                except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                    log.warning("webhook_claim_failed", error=str(exc))
                    claimed = 0
                if claimed and len(self._in_flight) < settings.concurrency:
                    continue
                await self._sleep(settings)
        finally:
            for task in list(self._in_flight):
                task.cancel()
            for task in list(self._in_flight):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            await self._http.aclose()

    async def _sleep(self, settings: DeliverySettings) -> None:
        """Until woken (new deliveries, a slot freed), the next retry is due, or the poll
        interval passed."""
        timeout = settings.poll_s
        with contextlib.suppress(OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            due_in = await store.next_due_in(self.pool)
            if due_in is not None:
                timeout = min(timeout, due_in)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), max(timeout, 0.001))

    async def _start_due(self, settings: DeliverySettings) -> int:
        free = settings.concurrency - len(self._in_flight)
        if free <= 0:
            return 0
        due = await store.claim_due(self.pool, free, settings.lease_s)
        for d in due:
            task = asyncio.create_task(self._deliver(d, settings),
                                       name=f"webhook-delivery-{d.id}")
            self._in_flight.add(task)
            task.add_done_callback(self._done)
        return len(due)

    def _done(self, task: asyncio.Task) -> None:
        self._in_flight.discard(task)
        self._wake.set()

    async def _deliver(self, due: store.Due, settings: DeliverySettings) -> None:
        try:
            await self._attempt(due, settings)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await asyncio.shield(store.release(self.pool, due))
            raise
        except Exception as exc:  # the lease runs out and another round tries again
            log.warning("webhook_delivery_failed", delivery_id=due.id,
                        webhook_id=due.webhook_id, error=str(exc))

    async def _attempt(self, due: store.Due, settings: DeliverySettings) -> None:
        event = await store.event_of(self.pool, due.event_id)
        if event is None:  # cannot happen: events are never deleted
            raise LookupError(f"event {due.event_id} not found")
        body = domain.body(event, due.webhook_id)
        headers = {SIGNATURE_HEADER: signature_header(due.secret, body, int(time.time())),
                   "X-Harness-Event": event.type, "X-Harness-Event-Id": str(event.event_id),
                   "X-Harness-Delivery": str(due.id), "X-Harness-Webhook": due.webhook_id}
        assert self._http is not None
        outcome = await sender.post(self._http, due.url, body, headers,
                                    settings.allowed_networks, settings.timeout_s)
        self.attempts += 1
        retry_in = domain.retry_delay_s(due.attempts + 1, settings.backoff_s,
                                        settings.backoff_max_s)
        failures = await store.record_attempt(self.pool, due, outcome, retry_in,
                                              settings.max_failures, settings.lease_s)
        if outcome.ok:
            return
        log.info("webhook_attempt_failed", webhook_id=due.webhook_id, delivery_id=due.id,
                 attempt=due.attempts + 1, status=outcome.status_code, failures=failures)
        if domain.gives_up(failures, settings.max_failures):
            await self.disable(due.webhook_id, failures)
            await store.release(self.pool, due)  # held until disabled: no retry raced it
