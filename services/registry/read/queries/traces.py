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
from collections.abc import Callable
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


class _Params:
    """The positional arguments of one query: :meth:`add` returns a value's placeholder."""

    def __init__(self) -> None:
        self.values: list[Any] = []

    def add(self, value: Any) -> str:
        self.values.append(value)
        return f"${len(self.values)}"


# One function per filter: the SQL condition it adds (None when the filter is not set).
# Each is written the way an index of the trace explorer (gateway migrations 0003, 0005)
# can serve it.
Condition = Callable[[TraceFilter, _Params], str | None]


def _since(f: TraceFilter, p: _Params) -> str | None:
    return None if f.since is None else f"created_at >= {p.add(_utc(f.since))}"


def _until(f: TraceFilter, p: _Params) -> str | None:
    return None if f.until is None else f"created_at < {p.add(_utc(f.until))}"


def _equals(column: str) -> Condition:
    """``column = value`` for the filter field of the same name."""

    def condition(f: TraceFilter, p: _Params) -> str | None:
        value = getattr(f, column)
        return None if value is None else f"{column} = {p.add(value)}"

    condition.__name__ = f"_{column}"
    return condition


def _model(f: TraceFilter, p: _Params) -> str | None:
    if f.model is None:
        return None
    m = p.add(f.model)
    return f"(model_requested = {m} OR model_answered = {m})"


def _key(f: TraceFilter, p: _Params) -> str | None:
    """A gateway key's id, else its name."""
    if f.key is None:
        return None
    try:
        return f"key_id = {p.add(uuid.UUID(f.key))}"
    except ValueError:
        return f"key_name = {p.add(f.key)}"


_STATUS = {"ok": "status < 400", "error": "status >= 400"}


def _status(f: TraceFilter, p: _Params) -> str | None:
    return _STATUS.get(f.status or "")


def _min_latency(f: TraceFilter, p: _Params) -> str | None:
    return None if f.min_latency_ms is None else f"latency_ms >= {p.add(f.min_latency_ms)}"


def _min_cost(f: TraceFilter, p: _Params) -> str | None:
    if f.min_cost_usd is None:
        return None
    return f"cost_usd >= {p.add(Decimal(repr(f.min_cost_usd)))}::numeric"


def _text(f: TraceFilter, p: _Params) -> str | None:
    """Literal, case-insensitive text in the stored (masked) bodies. The expressions are
    those of the pg_trgm indexes (gateway migration 0005) where the extension exists."""
    if not f.q:
        return None
    pattern = p.add(contains_pattern(f.q))
    return (f"((request::text) ILIKE {pattern} ESCAPE '\\' "
            f"OR (response::text) ILIKE {pattern} ESCAPE '\\')")


def _scored(f: TraceFilter, p: _Params) -> str | None:
    """Has a score (a person's or an evaluator's; of ``score_name`` when given) below
    ``score_below``."""
    if f.score_below is None and f.score_name is None:
        return None
    scored = ["s.trace_id = gateway_traces.id"]
    if f.score_below is not None:
        scored.append(f"s.value < {p.add(f.score_below)}")
    if f.score_name is not None:
        scored.append(f"s.name = {p.add(f.score_name)}")
    return f"EXISTS (SELECT 1 FROM trace_scores s WHERE {' AND '.join(scored)})"


# the conditions on a trace's own columns (the time range is the scores' too: below)
_TRACE_CONDITIONS: tuple[Condition, ...] = (
    _equals("source"), _model, _equals("application"), _equals("prompt_id"),
    _equals("prompt_version"), _key, _status, _min_latency, _min_cost, _text)
_CONDITIONS: tuple[Condition, ...] = (_since, _until, *_TRACE_CONDITIONS, _scored)


def where_clause(f: TraceFilter) -> tuple[str, list[Any]]:
    """The SQL condition of ``f`` (its set filters ANDed) and its arguments ($1..$n)."""
    p = _Params()
    conds = [c for c in (condition(f, p) for condition in _CONDITIONS) if c is not None]
    return (" AND ".join(conds) or "TRUE"), p.values


def page_query(f: TraceFilter, *, limit: int, after: Cursor | None = None,
               columns: tuple[str, ...] = SUMMARY_COLUMNS) -> tuple[str, list[Any]]:
    """The SQL and arguments of one page of :func:`list_traces` (``limit`` + 1 rows of
    ``columns``)."""
    if _score_driven(f):
        return _scored_page_query(f, limit=limit, after=after, columns=columns)
    where, args = where_clause(f)
    if after is not None:
        args += [after.created_at, after.id]
        t, i = f"${len(args) - 1}", f"${len(args)}"
        # the plain bound lets the planner skip the day partitions newer than the cursor
        where += f" AND created_at <= {t} AND (created_at, id) < ({t}, {i})"
    args.append(limit + 1)  # one more than asked tells whether a next page exists
    return (f"SELECT {', '.join(columns)} FROM gateway_traces WHERE {where} "
            f"ORDER BY created_at DESC, id DESC LIMIT ${len(args)}"), args


def _score_driven(f: TraceFilter) -> bool:
    """A score filter without free text is answered from the scores: they are few beside
    the traces, and walking traces to test each for a rare score costs as many traces as
    lie between two matches. (With free text, the trigram index finds fewer traces.)"""
    return (f.score_below is not None or f.score_name is not None) and not f.q


def _scored_page_query(f: TraceFilter, *, limit: int, after: Cursor | None,
                       columns: tuple[str, ...]) -> tuple[str, list[Any]]:
    """The matching scores' traces, newest first: (trace time, trace id) from the scores'
    indexes (registry migration 0016), each trace read from its own day partition with
    the other filters. The lateral part stays a subquery (``OFFSET 0``) so each trace is
    one key lookup the planner cannot turn into a scan of every trace."""
    p = _Params()
    keys = ["s.trace_created_at IS NOT NULL"]
    if f.score_below is not None:
        keys.append(f"s.value < {p.add(f.score_below)}")
    if f.score_name is not None:
        keys.append(f"s.name = {p.add(f.score_name)}")
    if f.since is not None:
        keys.append(f"s.trace_created_at >= {p.add(_utc(f.since))}")
    if f.until is not None:
        keys.append(f"s.trace_created_at < {p.add(_utc(f.until))}")
    if after is not None:
        t, i = p.add(after.created_at), p.add(after.id)
        keys.append(f"s.trace_created_at <= {t} AND (s.trace_created_at, s.trace_id) < ({t}, {i})")
    others = [c for c in (condition(f, p) for condition in _TRACE_CONDITIONS) if c is not None]
    trace = " AND ".join(["id = s.trace_id", "created_at = s.trace_created_at", *others])
    # DISTINCT ON at the top (a trace scored twice is listed once) keeps the whole query
    # one plan under the LIMIT: the scores are walked in index order and stop with the page
    return ("SELECT DISTINCT ON (s.trace_created_at, s.trace_id) "
            f"{', '.join('t.' + c for c in columns)} FROM trace_scores s, LATERAL ("
            f"SELECT {', '.join(columns)} FROM gateway_traces WHERE {trace} "
            f"OFFSET 0) t WHERE {' AND '.join(keys)} "
            "ORDER BY s.trace_created_at DESC, s.trace_id DESC "
            f"LIMIT {p.add(limit + 1)}"), p.values


async def list_traces(pool: asyncpg.Pool, f: TraceFilter, *, limit: int,
                      after: Cursor | None = None) -> tuple[list[asyncpg.Record], Cursor | None]:
    """One page of trace summaries, newest first, and the cursor of the next page (None on
    the last one)."""
    rows = await _explore(pool, *page_query(f, limit=limit, after=after))
    if len(rows) <= limit:
        return list(rows), None
    page = list(rows[:limit])
    return page, Cursor(page[-1]["created_at"], page[-1]["id"])


EXPLORER_SETTINGS = "SET LOCAL plan_cache_mode = force_custom_plan; SET LOCAL jit = off"


async def _explore(pool: asyncpg.Pool, sql: str, args: list[Any]) -> list[asyncpg.Record]:
    """Run a filtered read of the explorer, planned for its own arguments.

    Which index answers a page depends on the values: a common word of ``q`` is found
    soonest by walking the newest traces, a rare one through the trigram index; a busy
    application by its index, a quiet one the same way. A prepared statement's generic
    plan (which the server may switch to after five runs) would pick one path for every
    value, so each read is planned for its values; JIT compilation, which costs more than
    such a read takes, is off.
    """
    async with pool.acquire() as conn, conn.transaction(readonly=True):
        await conn.execute(EXPLORER_SETTINGS)
        return await conn.fetch(sql, *args)


async def get_trace(pool: asyncpg.Pool, trace_id: uuid.UUID) -> asyncpg.Record | None:
    """One whole trace (masked bodies included) with the name of the prompt it used."""
    return await pool.fetchrow(
        f"SELECT {', '.join('t.' + c for c in SUMMARY_COLUMNS)}, t.request, t.response, "
        "t.prompt_references, t.otel_trace_id, t.otel_span_id, p.name AS prompt_name "
        "FROM gateway_traces t "
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
    rows = await _explore(pool, *page_query(f, limit=limit, columns=_CASE_COLUMNS))
    return list(rows[:limit]), len(rows) > limit
