"""Every filter of the trace explorer can be answered by an index (gateway migrations 0002,
0003, 0005), and an index gives the same page a scan gives.

With sequential and plain index scans turned off, a condition that no index can serve still
plans (as a disabled sequential scan); one that matches an index plans a bitmap scan of it.
So the plan names the index each filter's SQL is written for: a change of the query's
expressions that leaves its index unused fails here, not at a million traces
(``bench/traces.py`` measures those).
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from harness.tracing import PostgresTraceStore
from harness.tracing.record import Trace
from services.registry.read.queries.traces import (
    EXPLORER_SETTINGS,
    TraceFilter,
    page_query,
    traces_matching,
)

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
KEY_ID = uuid.UUID("11111111-2222-3333-4444-555555555555")


def trace(i: int, **kw) -> Trace:
    base = dict(kind="chat", model_requested=f"openai/m{i % 3}", status=200,
                latency_ms=10.0 + i, created_at=T0 + timedelta(seconds=i), source="gateway",
                request={"messages": [{"role": "user", "content": f"question {i} ORD-{i:05d}"}]},
                response={"choices": [{"message": {"content": f"answer [EMAIL] {i}"}}]})
    base.update(kw)
    return Trace(**base)


@pytest.fixture
async def pool(runtime):
    traces = [trace(i, application=f"app-{i % 4}", prompt_id=f"p-{i % 2}",
                    prompt_version=1 + i % 3, key_id=KEY_ID if i % 5 == 0 else None,
                    key_name="team-a" if i % 5 == 0 else None,
                    model_answered="openai/fallback" if i % 7 == 0 else None,
                    status=502 if i % 11 == 0 else 200, cost_usd=0.001 * i,
                    source="runner" if i % 6 == 0 else "gateway")
              for i in range(60)]
    await PostgresTraceStore(runtime.pool).write(traces)
    await runtime.pool.execute("ANALYZE gateway_traces")
    return runtime.pool


async def has_trgm(pool) -> bool:
    return await pool.fetchval("SELECT count(*) > 0 FROM pg_extension WHERE extname = 'pg_trgm'")


async def plan_and_rows(pool, f: TraceFilter, *, bitmap_only: bool) -> tuple[set[str], list]:
    """The parent indexes the page's plan uses, and the page's ids."""
    sql, args = page_query(f, limit=50)
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(EXPLORER_SETTINGS)
        if bitmap_only:
            await conn.execute("SET LOCAL enable_seqscan = off; SET LOCAL enable_indexscan = off;"
                               " SET LOCAL enable_indexonlyscan = off")
        raw = await conn.fetchval(f"EXPLAIN (FORMAT JSON) {sql}", *args)
        plan = json.loads(raw) if isinstance(raw, str) else raw  # the pool decodes json
        rows = [r["id"] for r in await conn.fetch(sql, *args)]
        names: set[str] = set()

        def walk(node: dict) -> None:
            if "Index Name" in node:
                names.add(node["Index Name"])
            for child in node.get("Plans", []):
                walk(child)

        walk(plan[0]["Plan"])
        parents = {r["relname"] for r in await conn.fetch(
            "SELECT p.relname FROM pg_class c JOIN pg_inherits i ON i.inhrelid = c.oid "
            "JOIN pg_class p ON p.oid = i.inhparent WHERE c.relname = ANY($1::text[])",
            list(names))}
    return parents, rows


@pytest.mark.parametrize(("f", "index"), [
    (TraceFilter(source="runner"), "gateway_traces_source_idx"),
    (TraceFilter(model="openai/m1"), "gateway_traces_model_idx"),
    (TraceFilter(model="openai/fallback"), "gateway_traces_answered_idx"),
    (TraceFilter(application="app-2"), "gateway_traces_app_idx"),
    (TraceFilter(prompt_id="p-1", prompt_version=2), "gateway_traces_prompt_idx"),
    (TraceFilter(key=str(KEY_ID)), "gateway_traces_key_idx"),
    (TraceFilter(key="team-a"), "gateway_traces_key_name_idx"),
    (TraceFilter(status="error"), "gateway_traces_error_idx"),
    (TraceFilter(min_latency_ms=60), "gateway_traces_latency_idx"),
    (TraceFilter(min_cost_usd=0.05), "gateway_traces_cost_idx"),
    (TraceFilter(since=T0 + timedelta(seconds=30)), "gateway_traces_page_idx"),
    (TraceFilter(q="ORD-00042"), "gateway_traces_request_trgm_idx"),
    (TraceFilter(q="ANSWER [email] 4"), "gateway_traces_response_trgm_idx"),
])
async def test_each_filter_is_served_by_its_index_with_the_same_page(pool, f, index):
    if "trgm" in index and not await has_trgm(pool):
        pytest.skip("pg_trgm is not available on this server: free text is not indexed")
    used, via_index = await plan_and_rows(pool, f, bitmap_only=True)
    assert index in used, used
    _, planned = await plan_and_rows(pool, f, bitmap_only=False)
    assert via_index == planned and via_index  # same traces, same order, not none


async def test_free_text_through_the_index_is_literal_and_case_insensitive(pool):
    if not await has_trgm(pool):
        pytest.skip("pg_trgm is not available on this server: free text is not indexed")
    for q, expected in [("ord-00042", 1), ("[EMAIL] 1", 11), ("ORD-0004_", 0), ("_", 0)]:
        _, rows = await plan_and_rows(pool, TraceFilter(q=q), bitmap_only=True)
        assert len(rows) == expected, q


async def test_score_filters_page_newest_trace_first_once_each(client, runtime):
    """Scores recorded through the API keep their trace's time (the projection reads it),
    and a score filter pages from them: newest trace first, a trace scored by two people
    once, no repeats or gaps across cursors, other filters applied to each trace."""
    traces = [trace(i, application="bot" if i % 2 else "other") for i in range(12)]
    await PostgresTraceStore(runtime.pool).write(traces)
    r = await client.post("/score-configs", json={"name": "stars", "data_type": "numeric",
                                                  "min_value": 0, "max_value": 5})
    assert r.status_code == 201, r.text
    low = {i for i in range(12) if i % 3 != 0}  # scored 1 (by both people) or 4
    for i in range(12):
        for who in ("rita", "sam"):
            r = await client.post(f"/traces/{traces[i].id}/scores", headers={"X-Actor": who},
                                  json={"name": "stars", "value": 1 if i in low else 4})
            assert r.status_code == 201, r.text

    async def pages(**params) -> list[str]:
        seen, cursor = [], None
        while True:
            body = (await client.get("/traces", params=params | {"limit": 3} | (
                {"cursor": cursor} if cursor else {}))).json()
            seen += [t["id"] for t in body["items"]]
            cursor = body["next_cursor"]
            if cursor is None:
                return seen

    newest_first = [str(traces[i].id) for i in reversed(range(12))]
    assert await pages(score_below=2, score_name="stars") == [
        t for t in newest_first if traces_index(traces, t) in low]
    assert await pages(score_below=2, application="bot") == [
        t for t in newest_first if traces_index(traces, t) in low and traces_index(traces, t) % 2]
    assert await pages(score_name="stars") == newest_first  # any score of that name
    assert await pages(score_below=1) == []
    # traces by filter (cases from traces, annotation queues) select the same way
    rows, more = await traces_matching(runtime.pool, TraceFilter(score_below=2), limit=3)
    assert [str(r["id"]) for r in rows] == [
        t for t in newest_first if traces_index(traces, t) in low][:3] and more
    assert rows[0]["request"] == traces[11 if 11 in low else 10].request  # with the bodies


def traces_index(traces: list[Trace], trace_id: str) -> int:
    return next(i for i, t in enumerate(traces) if str(t.id) == trace_id)
