"""Trace rows, written off the request path in batches into ``gateway_traces`` (a table
partitioned by day; partitions are made on demand and dropped after the retention).

Callers only ``add()`` (a queue put); a background task hands each batch to the exporters
(OpenTelemetry), writes it to its store — the database (:class:`PostgresTraceStore`), or
the registry's ``POST /traces`` for a worker without one (:class:`HttpTraceStore`) — and
then tells the listeners (cost alerts).

No trace is lost because of another: strings are made storable first
(:mod:`harness.storable`), and a batch the database still refuses is written again row
by row, so only the rows that cannot be stored are dropped, and counted
(``TraceWriter.dropped``, the ``harness_gateway_traces_dropped_total`` metric).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Protocol

import orjson
import structlog

from harness.storable import is_unstorable, storable

from .record import COLUMNS, JSON_COLUMNS, Trace
from .spans import current_parent

log = structlog.get_logger(__name__)

_INSERT = (f"INSERT INTO gateway_traces ({', '.join(COLUMNS)}) VALUES ("
           + ", ".join(f"${i + 1}::text::jsonb" if c in JSON_COLUMNS else f"${i + 1}"
                       for i, c in enumerate(COLUMNS)) + ")")

BatchListener = Callable[[list[Trace]], Awaitable[None]]



class TraceExporter(Protocol):
    """Somewhere else the same traces go (e.g. OTLP); must not block for long."""

    def export(self, batch: list[Trace]) -> None: ...

    def shutdown(self) -> None: ...


def mask_bodies(t: Trace) -> None:
    """Mask personal data in the stored request and response (here, off the caller's path)."""
    from harness import pii

    def scrub(v):
        if isinstance(v, str):
            return pii.mask(v).text
        if isinstance(v, list):
            return [scrub(x) for x in v]
        if isinstance(v, dict):
            return {k: scrub(x) for k, x in v.items()}
        return v

    t.request, t.response = scrub(t.request), scrub(t.response)
    t.mask_bodies, t.bodies_masked = False, True


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


class TraceStore(Protocol):
    async def write(self, batch: list[Trace]) -> int | None:
        """Store the batch; returns how many of its traces were dropped (None = 0).
        Raising means none was stored."""

    async def close(self) -> None: ...


class PostgresTraceStore:
    """Inserts into the day partition (made on first use) and, once a day, drops the
    partitions older than the retention."""

    def __init__(self, pool, retention_days: int = 30) -> None:
        self.pool = pool
        self.retention_days = retention_days
        self._partitions: set[date] = set()
        self._last_retention: date | None = None

    async def write(self, batch: list[Trace]) -> int:
        """Insert the batch in one statement; if that fails, insert row by row and drop
        (with a log line each) only the rows that fail alone. Returns how many were
        dropped. A connection failure still raises (nothing row-specific about it)."""
        dropped = 0
        async with self.pool.acquire() as conn:
            for day in {t.created_at.astimezone(UTC).date() for t in batch}:
                if day not in self._partitions:
                    await ensure_partition(conn, day)
                    self._partitions.add(day)
            try:
                rows = [t.row() for t in batch]
                async with conn.transaction():
                    await conn.executemany(_INSERT, rows)
            except Exception as exc:
                if not is_unstorable(exc):
                    raise
                log.warning("trace_batch_refused", size=len(batch), error=str(exc)[:500])
                for t in batch:
                    try:
                        await conn.execute(_INSERT, *t.row())
                    except Exception as row_exc:
                        if not is_unstorable(row_exc):
                            raise
                        dropped += 1
                        log.error("trace_dropped", reason="not storable", trace_id=str(t.id),
                                  error=str(row_exc)[:500])
        today = datetime.now(UTC).date()
        if self._last_retention != today:
            self._last_retention = today
            await drop_expired(self.pool, self.retention_days, today)
        return dropped

    async def close(self) -> None:
        pass


class TraceRefused(Exception):
    """The registry answered a trace batch with a 4xx (or it could not be encoded)."""

    def __init__(self, status: int | None, detail: str) -> None:
        super().__init__(f"traces refused ({status}): {detail}")
        self.status = status


class HttpTraceStore:
    """Posts batches to the registry's ``POST /traces`` (a worker with no database);
    retried with backoff, then dropped with a log line (traces never stop the work).
    A batch the registry refuses (a 4xx other than 401/403: one invalid trace, a body
    over its size limit) is posted again one trace at a time, so only the traces it
    refuses alone are dropped (and counted)."""

    def __init__(self, base_url: str, api_key: str | None = None, *, attempts: int = 4,
                 timeout_s: float = 10.0) -> None:
        import httpx

        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.client = httpx.AsyncClient(base_url=base_url.rstrip("/"), headers=headers,
                                        timeout=timeout_s)
        self.attempts = attempts

    async def write(self, batch: list[Trace]) -> int:
        try:
            await self._post(batch)
            return 0
        except TraceRefused as exc:
            if len(batch) == 1 or exc.status in (401, 403):
                raise  # nothing about one trace: every one would be refused alike
            log.warning("trace_batch_refused", size=len(batch), error=str(exc)[:500])
        dropped = 0
        for t in batch:
            try:
                await self._post([t])
            except TraceRefused as exc:
                dropped += 1
                log.error("trace_dropped", reason="refused", trace_id=str(t.id),
                          error=str(exc)[:500])
        return dropped

    async def _post(self, batch: list[Trace]) -> None:
        import httpx

        try:
            body = orjson.dumps({"traces": [storable(t.wire()) for t in batch]},
                                default=str)
        except (TypeError, ValueError) as exc:
            raise TraceRefused(None, f"not encodable: {exc}") from exc
        for attempt in range(self.attempts):
            try:
                r = await self.client.post("/traces", content=body,
                                           headers={"content-type": "application/json"})
                if r.status_code < 400:
                    return
                if r.status_code < 500:
                    raise TraceRefused(r.status_code, r.text[:500])  # will not get better
            except httpx.HTTPError as exc:
                log.warning("trace_post_failed", error=str(exc), attempt=attempt + 1)
            await asyncio.sleep(min(8.0, 0.5 * 2 ** attempt))
        raise RuntimeError(f"the registry did not take {len(batch)} traces")

    async def close(self) -> None:
        await self.client.aclose()


class TraceWriter:
    """Queue traces in memory; a background task (started by the first ``add``) writes
    them in batches of up to ``batch_size``, at most ``flush_s`` after the first one.
    ``store``: a :class:`TraceStore`, or a Postgres pool (a :class:`PostgresTraceStore`)."""

    def __init__(self, store, *, batch_size: int = 200, flush_s: float = 0.5,
                 retention_days: int = 30, max_queue: int = 100_000,
                 exporters: list[TraceExporter] | None = None) -> None:
        self.store: TraceStore = store if hasattr(store, "write") else \
            PostgresTraceStore(store, retention_days)
        self.batch_size = batch_size
        self.flush_s = flush_s
        self.exporters = list(exporters or [])
        self.listeners: list[BatchListener] = []
        self._queue: asyncio.Queue[Trace] = asyncio.Queue(maxsize=max_queue)
        self._task: asyncio.Task | None = None
        self.written = 0
        self.dropped = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def add(self, trace: Trace) -> None:
        """Queue ``trace``; when it is exported, the span current now (a run's case, a
        gateway request) becomes its span's parent."""
        parent = trace.parent if trace.parent is not None else current_parent()
        if self.exporters:
            trace.parent = parent
        if parent is not None and trace.otel_trace_id is None:  # stored: work done on the
            #  call later (an online evaluation) nests under its span
            trace.otel_trace_id = format(parent.trace_id, "032x")
            trace.otel_span_id = format(parent.span_id, "016x")
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(),
                                                                name="trace-writer")
        try:
            self._queue.put_nowait(trace)
            self._idle.clear()
        except asyncio.QueueFull:
            self.dropped += 1
            log.warning("trace_dropped", reason="queue full")

    async def stop(self) -> None:
        if self._task is not None:
            with contextlib.suppress(TimeoutError):
                await self.flush()
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for exporter in self.exporters:
            await asyncio.to_thread(exporter.shutdown)
        await self.store.close()

    async def flush(self, timeout_s: float = 10.0) -> None:
        """Wait until everything queued so far is written."""
        if self._task is None:
            await self._write_all()
            return
        await asyncio.wait_for(self._idle.wait(), timeout_s)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch: list[Trace] = []
            try:
                batch = [await self._queue.get()]
                deadline = loop.time() + self.flush_s
                while len(batch) < self.batch_size:
                    while not self._queue.empty() and len(batch) < self.batch_size:
                        batch.append(self._queue.get_nowait())
                    left = deadline - loop.time()
                    if left <= 0 or len(batch) >= self.batch_size:
                        break
                    try:
                        batch.append(await asyncio.wait_for(self._queue.get(), left))
                    except TimeoutError:
                        break
                await self._handle(batch)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - keep writing later batches
                self.dropped += len(batch)
                log.error("trace_write_failed", error=str(exc), dropped=len(batch))
                await asyncio.sleep(0.5)
            finally:
                if self._queue.empty():
                    self._idle.set()

    async def _write_all(self) -> None:
        batch = []
        while not self._queue.empty():
            batch.append(self._queue.get_nowait())
        if batch:
            await self._handle(batch)
        self._idle.set()

    async def _handle(self, batch: list[Trace]) -> None:
        # an exporter of full content sees the bodies before they are masked for storage
        unmasked = [e for e in self.exporters if getattr(e, "wants_unmasked", False)]
        self._export(unmasked, batch)
        for t in batch:
            if t.mask_bodies:
                mask_bodies(t)
        self._export([e for e in self.exporters if e not in unmasked], batch)
        dropped = await self.store.write(batch) or 0
        self.written += len(batch) - dropped
        self.dropped += dropped
        for listener in self.listeners:
            try:
                await listener(batch)
            except Exception as exc:  # noqa: BLE001
                log.warning("trace_listener_failed", error=str(exc))

    @staticmethod
    def _export(exporters: list[TraceExporter], batch: list[Trace]) -> None:
        for exporter in exporters:
            try:
                exporter.export(batch)
            except Exception as exc:  # noqa: BLE001 - an exporter never stops the writes
                log.warning("trace_export_failed", exporter=type(exporter).__name__,
                            error=str(exc))


def trace_writer_from_settings(store, service_name: str, **kwargs) -> TraceWriter:
    """A writer (``store``: a pool or a :class:`TraceStore`) that also exports to
    ``HARNESS_OTLP_ENDPOINT`` when it is set."""
    from harness.config import get_settings

    from .otlp import exporter_from_settings

    otlp = exporter_from_settings(get_settings().otlp_endpoint, service_name)
    return TraceWriter(store, exporters=[otlp] if otlp else [], **kwargs)
