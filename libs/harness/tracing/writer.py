"""Trace rows, written off the request path in batches into a table partitioned by day."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson
import structlog

log = structlog.get_logger(__name__)

COLUMNS = ("id", "created_at", "kind", "key_id", "key_name", "application", "prompt_id",
           "prompt_version", "model_requested", "model_answered", "stream", "status", "error",
           "latency_ms", "ttft_ms", "prompt_tokens", "completion_tokens", "cost_usd",
           "attempts", "pii_action", "request", "response")


_INSERT = (f"INSERT INTO gateway_traces ({', '.join(COLUMNS)}) VALUES ("
           + ", ".join(f"${i + 1}::text::jsonb" if c in ("request", "response") else f"${i + 1}"
                       for i, c in enumerate(COLUMNS)) + ")")


@dataclass
class Trace:
    kind: str
    model_requested: str
    status: int
    latency_ms: float
    id: uuid.UUID = field(default_factory=uuid.uuid4)
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    key_id: uuid.UUID | None = None
    key_name: str | None = None
    application: str | None = None
    prompt_id: str | None = None
    prompt_version: int | None = None
    model_answered: str | None = None
    stream: bool = False
    error: str | None = None
    ttft_ms: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost_usd: float | None = None
    attempts: int | None = None
    pii_action: str | None = None
    request: Any = None
    response: Any = None

    def record(self) -> tuple:
        values = []
        for c in COLUMNS:
            v = getattr(self, c)
            if c in ("request", "response"):
                v = None if v is None else orjson.dumps(v).decode()
            elif c == "cost_usd" and v is not None:
                v = Decimal(repr(v))
            values.append(v)
        return tuple(values)


def partition_name(day: date) -> str:
    return f"gateway_traces_{day:%Y%m%d}"


async def ensure_partition(conn, day: date) -> None:
    nxt = day + timedelta(days=1)
    await conn.execute(
        f'CREATE TABLE IF NOT EXISTS "{partition_name(day)}" PARTITION OF gateway_traces '
        f"FOR VALUES FROM ('{day.isoformat()}') TO ('{nxt.isoformat()}')")


async def drop_expired(pool, retention_days: int, today: date | None = None) -> list[str]:
    """Drop day partitions older than the retention period; returns their names."""
    today = today or datetime.now(UTC).date()
    cutoff = partition_name(today - timedelta(days=retention_days))
    rows = await pool.fetch(
        """SELECT c.relname FROM pg_inherits i
             JOIN pg_class c ON c.oid = i.inhrelid
             JOIN pg_class p ON p.oid = i.inhparent
            WHERE p.relname = 'gateway_traces' ORDER BY c.relname""")
    dropped = []
    for r in rows:
        name = r["relname"]
        if name < cutoff:
            await pool.execute(f'DROP TABLE IF EXISTS "{name}"')
            dropped.append(name)
    return dropped


class TraceWriter:
    """Queue traces in memory; a background task writes them with COPY in batches."""

    def __init__(self, pool, *, batch_size: int = 200, flush_s: float = 0.5,
                 retention_days: int = 30, max_queue: int = 100_000) -> None:
        self.pool = pool
        self.batch_size = batch_size
        self.flush_s = flush_s
        self.retention_days = retention_days
        self._queue: asyncio.Queue[Trace] = asyncio.Queue(maxsize=max_queue)
        self._task: asyncio.Task | None = None
        self._partitions: set[date] = set()
        self.written = 0
        self.dropped = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._last_retention: date | None = None

    def add(self, trace: Trace) -> None:
        try:
            self._queue.put_nowait(trace)
            self._idle.clear()
        except asyncio.QueueFull:
            self.dropped += 1
            log.warning("gateway.trace_dropped", reason="queue full")

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="gateway-traces")

    async def stop(self) -> None:
        if self._task is not None:
            await self.flush()
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def flush(self, timeout_s: float = 10.0) -> None:
        """Wait until everything queued so far is written."""
        if self._task is None:
            await self._write_all()
            return
        await asyncio.wait_for(self._idle.wait(), timeout_s)

    async def _run(self) -> None:
        while True:
            try:
                first = await self._queue.get()
                batch = [first]
                deadline = asyncio.get_running_loop().time() + self.flush_s
                while len(batch) < self.batch_size:
                    left = deadline - asyncio.get_running_loop().time()
                    if left <= 0 and self._queue.empty():
                        break
                    try:
                        batch.append(await asyncio.wait_for(self._queue.get(),
                                                            max(left, 0.001)))
                    except TimeoutError:
                        break
                await self._write(batch)
                if self._queue.empty():
                    self._idle.set()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - keep writing later batches
                log.error("gateway.trace_write_failed", error=str(exc))
                if self._queue.empty():
                    self._idle.set()
                await asyncio.sleep(0.5)

    async def _write_all(self) -> None:
        batch = []
        while not self._queue.empty():
            batch.append(self._queue.get_nowait())
        if batch:
            await self._write(batch)
        self._idle.set()

    async def _write(self, batch: list[Trace]) -> None:
        async with self.pool.acquire() as conn:
            for day in {t.created_at.astimezone(UTC).date() for t in batch}:
                if day not in self._partitions:
                    await ensure_partition(conn, day)
                    self._partitions.add(day)
            await conn.executemany(_INSERT, [t.record() for t in batch])
        self.written += len(batch)
        today = datetime.now(UTC).date()
        if self._last_retention != today:
            self._last_retention = today
            await drop_expired(self.pool, self.retention_days, today)
