"""Local adapters of the runner's ports: the registry's ingestion and read models in the
same process (on GCP the same ports are Pub/Sub and the registry's REST API)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid

import asyncpg

from harness.events import EventMetadata
from harness.events.base import DomainEvent
from harness.eventstore import StreamBusy


class BatchingLocalSink:
    """Buffers result events and ingests them in batches (one append per run stream per
    flush), so thousands of results cost a few hundred appends, not thousands.

    A crash loses only unflushed results; they were never recorded, so a restarted runner
    computes them again and deterministic ids keep every result exactly once.
    """

    def __init__(self, commands, *, max_batch: int = 200, max_delay_s: float = 0.05,
                 actor: str = "runner") -> None:
        self.commands = commands
        self.max_batch = max_batch
        self.max_delay_s = max_delay_s
        self.metadata = EventMetadata(actor=actor)
        self._pending: dict[str, list[tuple[DomainEvent, uuid.UUID]]] = {}
        self._lock = asyncio.Lock()
        self._timer: asyncio.Task | None = None

    async def publish(self, stream_id: str, event: DomainEvent, event_id: uuid.UUID) -> None:
        self._pending.setdefault(stream_id, []).append((event, event_id))
        if sum(len(v) for v in self._pending.values()) >= self.max_batch:
            await self.flush()
        elif self._timer is None or self._timer.done():
            self._timer = asyncio.create_task(self._flush_later())

    async def _flush_later(self) -> None:
        await asyncio.sleep(self.max_delay_s)
        await self.flush()

    async def flush(self) -> None:
        async with self._lock:
            pending, self._pending = self._pending, {}
            for stream_id, items in pending.items():
                while True:
                    try:
                        await self.commands.record_facts(stream_id, [e for e, _ in items],
                                                         [i for _, i in items], self.metadata)
                        break
                    except StreamBusy as exc:  # results must not be dropped: wait and retry
                        await asyncio.sleep(exc.retry_after_s)

    async def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._timer
        await self.flush()


class LocalRunProgress:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def recorded_keys(self, run_id: str) -> set[tuple[str, str, int]]:
        rows = await self.pool.fetch(
            "SELECT case_id, target_id, repeat FROM run_results WHERE run_id = $1", run_id)
        return {(r["case_id"], r["target_id"], r["repeat"]) for r in rows}

    async def results(self, run_id: str) -> list[dict]:
        rows = await self.pool.fetch("SELECT result FROM run_results WHERE run_id = $1", run_id)
        return [r["result"] for r in rows]

    async def status(self, run_id: str) -> str | None:
        return await self.pool.fetchval("SELECT status FROM runs WHERE id = $1", run_id)

    async def unfinished_runs(self) -> list[str]:
        rows = await self.pool.fetch(
            "SELECT id FROM runs WHERE status IN ('queued', 'running') ORDER BY requested_at")
        return [r["id"] for r in rows]
