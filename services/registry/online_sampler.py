"""Online evaluation when the scorer is its own service (Pub/Sub, Cloud Run): the
registry's sampler reads stored traces as they are written (``harness.tracing.feed``,
checkpoint ``online-sampler``) and, for each one an active evaluator selects and samples
(``harness.evaluation.online``), records ``TraceSampled`` on the trace's stream with a
deterministic id per evaluator and trace. The outbox relay publishes it on the
``scoring`` topic; the scorer scores it and proposes ``TraceScored`` on ``results``.

The checkpoint moves once a page's events are recorded: a restart (or a second registry
instance reading the same page) re-records nothing, since the event ids are the same;
the checkpoint never moves backwards. The traces themselves stay in ``gateway_traces``
(retention applies): an event names the trace, the scorer reads it from ``GET
/traces/{id}``.

In the local stack (``harness up``) the scorer reads the feed itself
(``services/scorer/online.py``) and this sampler does not run.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import asyncpg
import structlog

from harness import metrics
from harness.evaluation.online import sample_event_id, selects
from harness.events import EventMetadata, streams
from harness.events.feedback_events import TraceSampled
from harness.tracing import feed

from .commands import CommandHandler
from .read.queries.evaluators import list_evaluators

log = structlog.get_logger(__name__)

CHECKPOINT = "online-sampler"
METADATA = EventMetadata(actor="online-sampler")


class TraceSampler:
    def __init__(self, pool: asyncpg.Pool, commands: CommandHandler, *, page_size: int = 500,
                 poll_s: float = 0.2, concurrency: int = 4) -> None:
        self.pool = pool
        self.commands = commands
        self.page_size = page_size
        self.poll_s = poll_s
        self.gate = asyncio.Semaphore(concurrency)  # trace streams appended to at once
        self.sampled = 0  # TraceSampled events recorded (a re-read records none)
        self.task: asyncio.Task | None = None

    async def step(self) -> int:
        """Sample one page of new traces; the number of traces read (0: caught up)."""
        # selecting needs no bodies: the scorer reads the trace it is handed
        traces = await feed.read_next(self.pool, CHECKPOINT, self.page_size, bodies=False)
        if not traces:
            return 0
        evaluators = await list_evaluators(self.pool, "active")
        picks = [(t, [e for e in evaluators
                      if selects(e["id"], e["traffic"], e["sampling_rate"], t)])
                 for t in traces]
        await asyncio.gather(*(self._record(t, chosen) for t, chosen in picks if chosen))
        await feed.save_checkpoint(self.pool, CHECKPOINT, traces[-1]["position"])
        return len(traces)

    async def _record(self, trace: dict[str, Any], evaluators: list[dict[str, Any]]) -> None:
        events = [TraceSampled(trace_id=trace["id"], evaluator_id=e["id"]) for e in evaluators]
        ids = [sample_event_id(e["id"], trace["id"]) for e in evaluators]
        async with self.gate:
            stored = await self.commands.record_facts(streams.trace(trace["id"]), events, ids,
                                                      METADATA)
        self.sampled += len(stored)

    async def run(self) -> None:
        """Sample new traces until cancelled (a failed page is read again after a pause)."""
        await feed.follow(self.step, poll_s=self.poll_s, failed_event="online_sampler_failed",
                          idle=self._gauge_lag)

    async def _gauge_lag(self) -> None:
        metrics.registry_online_feed_behind_seconds.set(
            await feed.behind_s(self.pool, CHECKPOINT))

    def start(self) -> asyncio.Task:
        self.task = asyncio.get_running_loop().create_task(self.run(), name="online-sampler")
        return self.task

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
