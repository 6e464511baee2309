"""The trace explorer's read side: filtered, cursor-paged reads of ``gateway_traces``.

Pages are newest first, ordered by (``created_at``, ``id``) and continued by a keyset
cursor rather than an offset: traces keep arriving while someone pages, and an offset
would shift under them (a trace shown twice, or one never shown). A cursor names the
last row of the page; the next page starts strictly after it, so a trace written since
lands above the first page and pages never overlap or skip.

Bodies (``request``, ``response``) are read only by :func:`get_trace`: they are stored
masked (the writer masks before storing), and a list carries summaries only.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import asyncpg
import orjson

from .search import contains_pattern

SUMMARY_COLUMNS = (
    "id", "created_at", "source", "kind", "key_id", "key_name", "application", "prompt_id",
    "prompt_version", "run_id", "model_requested", "model_answered", "stream", "cached",
    "status", "error", "latency_ms", "ttft_ms", "prompt_tokens", "completion_tokens",
    "cost_usd", "attempts", "pii_action")


class BadCursor(ValueError):
    """A ``cursor`` this server did not hand out (or one altered on the way)."""


@dataclass(frozen=True)
class Cursor:
    created_at: datetime
    id: uuid.UUID

    def encode(self) -> str:
        raw = orjson.dumps({"t": self.created_at.isoformat(), "i": str(self.id)})
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            data = orjson.loads(raw)
            at = datetime.fromisoformat(data["t"])
            if at.tzinfo is None:
                raise ValueError("no time zone")
            return cls(at, uuid.UUID(data["i"]))
        except (binascii.Error, ValueError, TypeError, KeyError, orjson.JSONDecodeError) as exc:
            raise BadCursor("not a cursor from a previous page of GET /traces") from exc


@dataclass(frozen=True)
class TraceFilter:
    """Every filter is optional; set ones are ANDed. ``key`` is a gateway key's id or name,
    ``model`` matches the model asked for or the one that answered, ``q`` is literal text
    in the masked request or response (case-insensitive); ``score_below`` keeps traces with
    a score (a person's or an evaluator's; of ``score_name`` when given) below it."""

    since: datetime | None = None
    until: datetime | None = None
    source: str | None = None
    model: str | None = None
    application: str | None = None
    prompt_id: str | None = None
    prompt_version: int | None = None
    key: str | None = None
    status: str | None = None  # ok | error
    min_latency_ms: float | None = None
    min_cost_usd: float | None = None
    q: str | None = None
    score_below: float | None = None   # some score (of ``score_name`` when given) below it
    score_name: str | None = None


def _utc(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def where_clause(f: TraceFilter) -> tuple[str, list[Any]]:
    """The SQL condition of ``f`` and its arguments ($1..$n)."""
    conds: list[str] = []
    args: list[Any] = []

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    if f.since is not None:
        conds.append(f"created_at >= {arg(_utc(f.since))}")
    if f.until is not None:
        conds.append(f"created_at < {arg(_utc(f.until))}")
    if f.source is not None:
        conds.append(f"source = {arg(f.source)}")
    if f.model is not None:
        p = arg(f.model)
        conds.append(f"(model_requested = {p} OR model_answered = {p})")
    if f.application is not None:
        conds.append(f"application = {arg(f.application)}")
    if f.prompt_id is not None:
        conds.append(f"prompt_id = {arg(f.prompt_id)}")
    if f.prompt_version is not None:
        conds.append(f"prompt_version = {arg(f.prompt_version)}")
    if f.key is not None:
        try:
            conds.append(f"key_id = {arg(uuid.UUID(f.key))}")
        except ValueError:
            conds.append(f"key_name = {arg(f.key)}")
    if f.status == "ok":
        conds.append("status < 400")
    elif f.status == "error":
        conds.append("status >= 400")
    if f.min_latency_ms is not None:
        conds.append(f"latency_ms >= {arg(f.min_latency_ms)}")
    if f.min_cost_usd is not None:
        conds.append(f"cost_usd >= {arg(Decimal(repr(f.min_cost_usd)))}::numeric")
    if f.q:
        p = arg(contains_pattern(f.q))
        conds.append(f"(request::text ILIKE {p} ESCAPE '\\' "
                     f"OR response::text ILIKE {p} ESCAPE '\\')")
    if f.score_below is not None or f.score_name is not None:
        scored = ["s.trace_id = gateway_traces.id"]
        if f.score_below is not None:
            scored.append(f"s.value < {arg(f.score_below)}")
        if f.score_name is not None:
            scored.append(f"s.name = {arg(f.score_name)}")
        conds.append(f"EXISTS (SELECT 1 FROM trace_scores s WHERE {' AND '.join(scored)})")
    return (" AND ".join(conds) or "TRUE"), args


async def list_traces(pool: asyncpg.Pool, f: TraceFilter, *, limit: int,
                      after: Cursor | None = None) -> tuple[list[asyncpg.Record], Cursor | None]:
    """One page of trace summaries, newest first, and the cursor of the next page (None on
    the last one)."""
    where, args = where_clause(f)
    if after is not None:
        args += [after.created_at, after.id]
        where += f" AND (created_at, id) < (${len(args) - 1}, ${len(args)})"
    args.append(limit + 1)  # one more than asked tells whether a next page exists
    rows = await pool.fetch(
        f"SELECT {', '.join(SUMMARY_COLUMNS)} FROM gateway_traces WHERE {where} "
        f"ORDER BY created_at DESC, id DESC LIMIT ${len(args)}", *args)
    if len(rows) <= limit:
        return list(rows), None
    page = list(rows[:limit])
    return page, Cursor(page[-1]["created_at"], page[-1]["id"])


async def get_trace(pool: asyncpg.Pool, trace_id: uuid.UUID) -> asyncpg.Record | None:
    """One whole trace (masked bodies included) with the name of the prompt it used."""
    return await pool.fetchrow(
        f"SELECT {', '.join('t.' + c for c in SUMMARY_COLUMNS)}, t.request, t.response, "
        "p.name AS prompt_name FROM gateway_traces t "
        "LEFT JOIN prompts p ON p.id = t.prompt_id WHERE t.id = $1 "
        "ORDER BY t.created_at DESC LIMIT 1", trace_id)


_CASE_COLUMNS = ("id", "created_at", "source", "kind", "application", "prompt_id",
                 "prompt_version", "model_requested", "model_answered", "status", "request",
                 "response")


async def traces_by_id(pool: asyncpg.Pool, trace_ids: list[uuid.UUID]) -> list[asyncpg.Record]:
    """The traces of ``trace_ids`` with their (masked) bodies, in the order asked; unknown
    ids are left out."""
    rows = await pool.fetch(
        f"SELECT DISTINCT ON (id) {', '.join(_CASE_COLUMNS)} FROM gateway_traces "
        "WHERE id = ANY($1::uuid[]) ORDER BY id, created_at DESC", trace_ids)
    by_id = {r["id"]: r for r in rows}
    return [by_id[i] for i in trace_ids if i in by_id]


async def traces_matching(pool: asyncpg.Pool, f: TraceFilter, *, limit: int
                          ) -> tuple[list[asyncpg.Record], bool]:
    """The newest ``limit`` traces ``f`` selects, with their (masked) bodies, and whether
    more matched."""
    where, args = where_clause(f)
    args.append(limit + 1)
    rows = await pool.fetch(
        f"SELECT {', '.join(_CASE_COLUMNS)} FROM gateway_traces WHERE {where} "
        f"ORDER BY created_at DESC, id DESC LIMIT ${len(args)}", *args)
    return list(rows[:limit]), len(rows) > limit
