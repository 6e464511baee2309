"""The trace feed: stored traces in the order they were written, from a named checkpoint
(``trace_feed_checkpoints``). Online evaluation reads it: the local stack's scorer
directly, the registry's sampler when the scorer is its own service.

Only rows of transactions older than every running one are read
(``pg_snapshot_xmin``), so a batch committing late is never skipped by a checkpoint that
moved past it. Fed: successful chat traces, never the scorer's own judge calls."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import structlog

from .context import of_span

Position = tuple[str, str]  # (writing transaction id, trace id)

_FEED = (
    "SELECT written_xid::text AS xid, id, source, application, prompt_id, key_id, key_name, "
    "model_requested, model_answered, latency_ms, cost_usd::float8 AS cost_usd, "
    "otel_trace_id, otel_span_id{bodies} "
    "FROM gateway_traces "
    "WHERE written_xid IS NOT NULL AND (written_xid, id) > ($1::text::xid8, $2::uuid) "
    "AND written_xid < pg_snapshot_xmin(pg_current_snapshot()) "
    "AND kind = 'chat' AND status < 400 AND source <> 'scorer' "
    "ORDER BY written_xid, id LIMIT $3")
_WITH_BODIES = _FEED.format(bodies=", request, response")
_OLDEST_UNREAD = (
    "SELECT extract(epoch FROM now() - created_at)::float8 FROM gateway_traces "
    "WHERE written_xid IS NOT NULL AND (written_xid, id) > ($1::text::xid8, $2::uuid) "
    "AND kind = 'chat' AND status < 400 AND source <> 'scorer' "
    "ORDER BY written_xid, id LIMIT 1")
_WITHOUT_BODIES = _FEED.format(bodies="")

START: Position = ("0", str(uuid.UUID(int=0)))

log = structlog.get_logger(__name__)


async def checkpoint(pool: asyncpg.Pool, name: str) -> Position:
    row = await pool.fetchrow(
        "SELECT xid::text AS xid, trace_id FROM trace_feed_checkpoints WHERE name = $1", name)
    return (row["xid"], str(row["trace_id"])) if row else START


async def read_after(pool: asyncpg.Pool, after: Position, limit: int, *,
                     bodies: bool = True) -> list[dict[str, Any]]:
    """Up to ``limit`` fed traces written after ``after``, oldest first; each a dict of
    the row (ids as strings) with its ``position``; ``bodies=False`` leaves out the
    (masked) ``request`` and ``response`` (what selects a trace needs none)."""
    out = []
    sql = _WITH_BODIES if bodies else _WITHOUT_BODIES
    for r in await pool.fetch(sql, after[0], uuid.UUID(after[1]), limit):
        d = dict(r)
        d["position"] = (d.pop("xid"), str(d["id"]))
        d["id"], d["key_id"] = str(d["id"]), (str(d["key_id"]) if d["key_id"] else None)
        d["trace_context"] = of_span(d.pop("otel_trace_id"), d.pop("otel_span_id"))
        out.append(d)
    return out


async def read_next(pool: asyncpg.Pool, name: str, limit: int, *,
                    bodies: bool = True) -> list[dict[str, Any]]:
    """The traces after checkpoint ``name`` (see :func:`read_after`)."""
    return await read_after(pool, await checkpoint(pool, name), limit, bodies=bodies)


async def save_checkpoint(pool: asyncpg.Pool, name: str, position: Position) -> None:
    """Move checkpoint ``name`` to ``position``; never backwards (two readers of one
    checkpoint, e.g. two registry instances, only ever move it forwards)."""
    await pool.execute(
        "INSERT INTO trace_feed_checkpoints AS c (name, xid, trace_id) "
        "VALUES ($1, $2::text::xid8, $3::uuid) ON CONFLICT (name) DO UPDATE "
        "SET xid = excluded.xid, trace_id = excluded.trace_id, updated_at = now() "
        "WHERE (c.xid, c.trace_id) < (excluded.xid, excluded.trace_id)",
        name, position[0], position[1])


async def behind_s(pool: asyncpg.Pool, name: str) -> float:
    """How old the first trace after checkpoint ``name`` is, readable yet or not (0: none):
    how far the reader is behind."""
    after = await checkpoint(pool, name)
    age = await pool.fetchval(_OLDEST_UNREAD, after[0], uuid.UUID(after[1]))
    return max(0.0, float(age or 0.0))


async def follow(step: Callable[[], Awaitable[int]], *, poll_s: float, failed_event: str,
                 idle: Callable[[], Awaitable[None]] | None = None) -> None:
    """Call ``step`` (one page of the feed: how many traces it read) until cancelled.

    A page that read nothing waits ``poll_s`` before the next (after ``idle``, e.g. setting a
    lag gauge; its failure is ignored); a page that failed is logged as ``failed_event`` and
    read again after the same pause, since the database may come back."""
    while True:
        try:
            read = await step()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - the database may come back
            log.error(failed_event, error=f"{type(exc).__name__}: {exc}")
            read = 0
        if read == 0:
            if idle is not None:
                try:
                    await idle()
                except Exception:  # noqa: BLE001, S110 - a gauge never stops the reader
                    pass
            await asyncio.sleep(poll_s)
