"""Trace explorer benchmark: filtered pages of ``GET /traces`` over 1,000,000 stored traces.

Prints one JSON document. A dedicated database (``bench_traces_<pid>``, dropped at the
end) gets the registry's and gateway's migrations, then ``--rows`` traces spread evenly over
``--days`` day partitions (``gateway_traces_YYYYMMDD``, as the trace writer names them):
each day is generated in SQL (``generate_series``, deterministic: every value is a hash of
the row number) into a table of the same shape, then attached as a partition, which builds
every index of the explorer on it. The traces look like production: four sources, eight
models (a few busy, a few rare, 3% answered by a fallback), twenty applications and their
prompts and versions, forty keys, 2.5% errors, log-normal latencies, token counts and costs
(2% of prices unknown), masked request/response bodies (a question with an order number
``ORD-<row>``, 5% with a masked ``[EMAIL]``, an answer). A tenth of the traces carry an
evaluator's ``helpfulness`` score, one in a hundred a person's boolean ``correct``.

Then, through the real registry app (``httpx.ASGITransport``, a viewer key), each filter
kind of the explorer is asked for its first page (50 items) and for a deep page (a cursor
halfway through the stored days, ~500,000 rows in): ``--reps`` times each, the filter values
varying per request (another application, model, key, order number...), all kinds in turns
so that the machine's load falls on each alike. ``baseline`` is ``GET /readyz`` (the same
app, auth-free, one ``SELECT 1``) measured in the same turns; ``ratios`` divide each p95 by
the baseline's. ``worst_p95_ms`` is the slowest kind; ``under_300ms`` says whether every
kind's p95 is below 300 ms. ``plans`` holds, per kind, the indexes ``EXPLAIN ANALYZE`` shows
the query using and its execution time (one run with the first values).

Usage: python bench/traces.py [--rows 1000000] [--days 30] [--reps 30] [--keep]
Database: HARNESS_BENCH_DATABASE_URL, else HARNESS_TEST_DATABASE_URL, else embedded.
``--keep`` leaves the database (its name is in the JSON) and ``--reuse NAME`` measures an
existing one again (pending migrations are applied to it first, as on an upgrade).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _db import admin_url, with_db  # noqa: E402

from harness.logging import configure_logging  # noqa: E402

MODELS = ["openai/gpt-4o-mini", "anthropic/claude-3-5-haiku", "openai/gpt-4o",
          "gemini/gemini-1.5-flash", "anthropic/claude-3-5-sonnet", "mistral/mistral-large",
          "gemini/gemini-1.5-pro", "groq/llama-3.1-70b"]
# USD per million input / output tokens
PRICES_IN = [0.15, 0.8, 2.5, 0.075, 3.0, 2.0, 1.25, 0.59]
PRICES_OUT = [0.6, 4.0, 10.0, 0.3, 15.0, 6.0, 5.0, 0.79]
APPS = [f"app-{i:02d}" for i in range(1, 21)]
KEYS = [f"team-{i:02d}" for i in range(1, 41)]
PRODUCTS = ["Acme Router", "Nimbus Drive", "Orbit Watch", "Lumen Lamp", "Vela Bike",
            "Quill Pen", "Atlas Backpack", "Pico Camera", "Terra Tent", "Zephyr Fan"]
ASKS = ["How do I reset my", "My order for the", "Can I return the", "Why is my",
        "What is the warranty on the", "The battery of my", "How long does shipping take for the",
        "I was charged twice for the", "Is there a discount on the", "How do I update the",
        "The screen of my", "Where can I find the manual for the"]
DETAILS = ["it stopped working after the last update.", "it arrived damaged.",
           "I never received a confirmation.", "the app keeps crashing.",
           "the color is not what I ordered.", "it makes a strange noise.",
           "I need it before the weekend.", "the invoice shows the wrong address.",
           "it does not connect to wifi.", "the size is too small."]
ANSWERS = ["I am sorry to hear that. Please hold the power button for ten seconds to reset it.",
           "Thanks for reaching out. A refund has been issued to your original payment method.",
           "You can return it within 30 days; print the label from your account page.",
           "Shipping usually takes three to five business days.",
           "The warranty covers manufacturing defects for two years.",
           "I have escalated this to our technical team; expect an email within 24 hours.",
           "Please update the firmware from the settings menu and try again.",
           "I could not find that order. Could you confirm the email on the account?",
           "A replacement is on its way; no need to send the old one back.",
           "Our records show a single charge; the second one is a pending authorization."]
SYSTEM = "You are the support assistant of {app}. Answer briefly and politely."


def _sql_array(values: list[str]) -> str:
    return "ARRAY[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def _sql_floats(values: list[float]) -> str:
    return "ARRAY[" + ", ".join(repr(v) for v in values) + "]::float8[]"


SETUP = f"""
CREATE FUNCTION bench_u(g bigint, k int) RETURNS float8 IMMUTABLE PARALLEL SAFE
LANGUAGE sql AS $$ SELECT (hashint8extended(g, k) & 2147483647)::float8 / 2147483648.0 $$;
CREATE FUNCTION bench_pick(arr text[], u float8) RETURNS text IMMUTABLE PARALLEL SAFE
LANGUAGE sql AS $$ SELECT arr[1 + floor(u * array_length(arr, 1))::int] $$;
CREATE TABLE bench_vocab AS SELECT
    {_sql_array(MODELS)} AS models, {_sql_floats(PRICES_IN)} AS price_in,
    {_sql_floats(PRICES_OUT)} AS price_out, {_sql_array(APPS)} AS apps,
    {_sql_array(KEYS)} AS keys, {_sql_array(PRODUCTS)} AS products,
    {_sql_array(ASKS)} AS asks, {_sql_array(DETAILS)} AS details,
    {_sql_array(ANSWERS)} AS answers;
"""

# One day of traces: $1 = first row number, $2 = rows, $3 = the day's start.
# u(k) = a uniform draw in [0, 1) of row g, independent per k.
FILL_DAY = """
INSERT INTO {table} (id, created_at, source, kind, key_id, key_name, application, prompt_id,
    prompt_version, run_id, model_requested, model_answered, stream, cached, status, error,
    latency_ms, ttft_ms, prompt_tokens, completion_tokens, cost_usd, attempts, pii_action,
    request, response)
SELECT md5('trace' || g)::uuid, created_at, source, kind,
       CASE WHEN gw THEN md5('key' || key_name)::uuid END, CASE WHEN gw THEN key_name END,
       app, prompt_id, prompt_version, run_id,
       v.models[m + 1], CASE WHEN status < 400 THEN v.models[answered + 1] END,
       stream, cached, status,
       CASE status WHEN 429 THEN 'rate limited by the provider'
                   WHEN 502 THEN 'upstream error: connection reset'
                   WHEN 400 THEN 'invalid request: max_tokens too large' END,
       latency, CASE WHEN stream THEN latency * 0.3 END, pt, ct,
       CASE WHEN bench_u(g, 12) >= 0.02 THEN
            ((pt * v.price_in[m + 1] + ct * v.price_out[m + 1]) / 1e6)::numeric(18, 10) END,
       CASE WHEN bench_u(g, 13) < 0.02 THEN 2 ELSE 1 END,
       CASE WHEN email THEN 'mask' END,
       jsonb_build_object(
           'model', v.models[m + 1], 'temperature', 0.2,
           'messages', jsonb_build_array(
               jsonb_build_object('role', 'system', 'content',
                                  'You are the support assistant of ' || coalesce(app, 'harness')
                                  || '. Answer briefly and politely.'),
               jsonb_build_object('role', 'user', 'content',
                   bench_pick(v.asks, bench_u(g, 14)) || ' '
                   || bench_pick(v.products, bench_u(g, 15)) || '? '
                   || bench_pick(v.details, bench_u(g, 16)) || ' Order ORD-'
                   || lpad(g::text, 7, '0') || '.'
                   || CASE WHEN email THEN ' Write to me at [EMAIL].' ELSE '' END))),
       CASE WHEN status < 400 THEN jsonb_build_object(
           'id', 'chatcmpl-' || g, 'object', 'chat.completion', 'model', v.models[answered + 1],
           'choices', jsonb_build_array(jsonb_build_object(
               'index', 0, 'finish_reason', 'stop', 'message', jsonb_build_object(
                   'role', 'assistant', 'content',
                   bench_pick(v.answers, bench_u(g, 17))
                   || CASE WHEN email THEN ' We will write to [EMAIL].' ELSE '' END))),
           'usage', jsonb_build_object('prompt_tokens', pt, 'completion_tokens', ct,
                                       'total_tokens', pt + ct)) END
FROM bench_vocab v, (
    SELECT g,
           $3::timestamptz
               + ((g - $1::bigint) + bench_u(g, 1)) * (86400.0 / $2::bigint) * interval '1 second'
               AS created_at,
           src AS source, src = 'gateway' AS gw,
           CASE WHEN bench_u(g, 3) < 0.97 THEN 'chat' ELSE 'embeddings' END AS kind,
           floor(8 * bench_u(g, 4) ^ 2)::int AS m,
           CASE WHEN bench_u(g, 5) < 0.03 THEN 0 ELSE floor(8 * bench_u(g, 4) ^ 2)::int END
               AS answered,
           'team-' || lpad((1 + floor(40 * bench_u(g, 6) ^ 1.5))::int::text, 2, '0') AS key_name,
           CASE WHEN src IN ('gateway', 'runner') AND bench_u(g, 7) < 0.9 THEN
                'app-' || lpad(app_n::text, 2, '0') END AS app,
           CASE WHEN src IN ('gateway', 'runner') AND bench_u(g, 7) < 0.9 THEN
                'prompt-' || lpad((app_n * 3 - floor(3 * bench_u(g, 8))::int)::text, 2, '0')
           END AS prompt_id,
           CASE WHEN src IN ('gateway', 'runner') AND bench_u(g, 7) < 0.9 THEN
                1 + floor(6 * bench_u(g, 9))::int END AS prompt_version,
           CASE WHEN src = 'runner' THEN 'run-' || (g / 2000) END AS run_id,
           src = 'gateway' AND bench_u(g, 10) < 0.4 AS stream,
           src = 'runner' AND bench_u(g, 10) < 0.1 AS cached,
           CASE WHEN bench_u(g, 11) < 0.975 THEN 200
                WHEN bench_u(g, 11) < 0.985 THEN 429
                WHEN bench_u(g, 11) < 0.995 THEN 502 ELSE 400 END AS status,
           round(exp(ln(900) + 0.7 * sqrt(-2 * ln(1 - bench_u(g, 18)))
                     * cos(2 * pi() * bench_u(g, 19)))::numeric, 1)::float8 AS latency,
           50 + floor(1500 * bench_u(g, 20) ^ 2)::int AS pt,
           5 + floor(500 * bench_u(g, 21))::int AS ct,
           bench_u(g, 22) < 0.05 AS email
    FROM generate_series($1::bigint, $1::bigint + $2::bigint - 1) g,
         LATERAL (SELECT CASE WHEN bench_u(g, 2) < 0.70 THEN 'gateway'
                              WHEN bench_u(g, 2) < 0.90 THEN 'runner'
                              WHEN bench_u(g, 2) < 0.97 THEN 'scorer'
                              ELSE 'generator' END AS src,
                         1 + floor(20 * bench_u(g, 23) ^ 1.5)::int AS app_n) s
    OFFSET 0) r
"""

SCORES = """
INSERT INTO trace_scores (trace_id, name, source, actor, data_type, value, label, comment,
                          scored_at, trace_created_at)
SELECT id, 'helpfulness', 'evaluator', 'evaluator:helpfulness', 'numeric',
       round(((hashtext(id::text || 'h') & 2147483647) % 1000) / 1000.0, 3), NULL, '',
       created_at + interval '5 seconds', created_at
FROM gateway_traces WHERE status < 400 AND (hashtext(id::text) & 2147483647) % 10 = 0
UNION ALL
SELECT id, 'correct', 'human', 'alice', 'boolean', v, CASE WHEN v = 1 THEN 'true' ELSE 'false' END,
       '', created_at + interval '1 day', created_at
FROM (SELECT id, created_at, ((hashtext(id::text || 'c') & 2147483647) % 4 > 0)::int::float8 AS v
      FROM gateway_traces WHERE status < 400 AND (hashtext(id::text) & 2147483647) % 100 = 7) c
"""


async def fill(url: str, rows: int, days: int) -> dict:
    """``rows`` traces over ``days`` day partitions ending yesterday, and their scores."""
    import asyncpg

    from harness.tracing import partition_name

    conn = await asyncpg.connect(url)
    t0 = time.perf_counter()
    await conn.execute(SETUP)
    await conn.close()
    first_day = datetime.now(UTC).date() - timedelta(days=days)
    per_day = rows // days
    gen_s = attach_s = 0.0
    lock = asyncio.Lock()  # attaching takes the parent's lock: one at a time

    async def one_day(d: int) -> None:
        nonlocal gen_s, attach_s
        day = first_day + timedelta(days=d)
        n = per_day + (rows - per_day * days if d == days - 1 else 0)
        table = partition_name(day)
        c = await asyncpg.connect(url)
        try:
            await c.execute("SET maintenance_work_mem = '256MB'")
            t = time.perf_counter()
            await c.execute(f'CREATE TABLE "{table}" (LIKE gateway_traces INCLUDING DEFAULTS '
                            "INCLUDING CONSTRAINTS)")
            await c.execute(FILL_DAY.format(table=f'"{table}"'), d * per_day + 1, n,
                            datetime(day.year, day.month, day.day, tzinfo=UTC))
            gen_s += time.perf_counter() - t
            async with lock:
                t = time.perf_counter()
                await c.execute(
                    f'ALTER TABLE gateway_traces ATTACH PARTITION "{table}" FOR VALUES '
                    f"FROM ('{day.isoformat()}') TO ('{(day + timedelta(days=1)).isoformat()}')")
                attach_s += time.perf_counter() - t
        finally:
            await c.close()

    queue = list(range(days))

    async def worker() -> None:
        while queue:
            await one_day(queue.pop(0))

    await asyncio.gather(worker(), worker())
    conn = await asyncpg.connect(url)
    try:
        t = time.perf_counter()
        await conn.execute(SCORES)
        scores_s = time.perf_counter() - t
        t = time.perf_counter()
        await conn.execute("ANALYZE gateway_traces; ANALYZE trace_scores")
        analyze_s = time.perf_counter() - t
    finally:
        await conn.close()
    return {"fill_s": round(time.perf_counter() - t0, 1),
            "generate_s": round(gen_s, 1), "attach_and_index_s": round(attach_s, 1),
            "scores_s": round(scores_s, 1), "analyze_s": round(analyze_s, 1)}


class Facts:
    """What the filters ask for, read from the stored traces (thresholds, ranges)."""

    def __init__(self, first: datetime, last: datetime, p99_latency: float, p99_cost: float,
                 key_ids: list[str], max_row: int) -> None:
        self.first, self.last = first, last
        self.mid = first + (last - first) / 2
        self.p99_latency, self.p99_cost = p99_latency, p99_cost
        self.key_ids, self.max_row = key_ids, max_row


async def facts(pool) -> Facts:
    lo, hi = await pool.fetchrow("SELECT min(created_at), max(created_at) FROM gateway_traces")
    lat, cost = await pool.fetchrow(
        "SELECT percentile_disc(0.99) WITHIN GROUP (ORDER BY latency_ms), "
        "percentile_disc(0.99) WITHIN GROUP (ORDER BY cost_usd) FROM gateway_traces "
        "TABLESAMPLE SYSTEM (5) REPEATABLE (1)")
    from harness.tracing import partition_name

    last_day = partition_name(hi.astimezone(UTC).date())
    keys = [str(r["key_id"]) for r in await pool.fetch(
        f'SELECT DISTINCT key_id FROM "{last_day}" WHERE key_id IS NOT NULL ORDER BY 1')]
    rows = await pool.fetchval("SELECT count(*) FROM gateway_traces")
    return Facts(lo, hi, float(lat), float(cost), keys, rows)


def _iso(at: datetime) -> str:
    return at.isoformat()


def filters(fx: Facts) -> dict[str, Any]:
    """Each kind: rep number -> query parameters (values vary from one request to the next)."""
    days = max(1, (fx.last - fx.first).days)

    def window(i: int, width: int) -> dict:
        since = fx.first + timedelta(days=(i * 7) % max(1, days - width))
        return {"since": _iso(since), "until": _iso(since + timedelta(days=width))}

    def order(i: int) -> str:  # an order number somewhere in the whole range
        return f"ORD-{1 + (i * 7_919_993) % fx.max_row:07d}"

    words = ["refund", "warranty", "firmware", "replacement", "Pico Camera", "wifi"]
    return {
        "none": lambda i: {},
        "time_range_2d": lambda i: window(i, 2),
        "source": lambda i: {"source": ["runner", "scorer", "generator"][i % 3]},
        "model": lambda i: {"model": MODELS[i % len(MODELS)]},
        "application": lambda i: {"application": APPS[i % len(APPS)]},
        "prompt_version": lambda i: {"prompt_id": f"prompt-{1 + i % 60:02d}",
                                     "prompt_version": 1 + i % 6},
        "key_name": lambda i: {"key": KEYS[i % len(KEYS)]},
        "key_id": lambda i: {"key": fx.key_ids[i % len(fx.key_ids)]},
        "error": lambda i: {"status": "error"},
        "min_latency_p99": lambda i: {"min_latency_ms": fx.p99_latency},
        "min_cost_p99": lambda i: {"min_cost_usd": fx.p99_cost},
        "score_below": lambda i: {"score_below": 0.2 + (i % 5) / 100,
                                  "score_name": "helpfulness"},
        "human_score_below": lambda i: {"score_below": 0.5, "score_name": "correct"},
        "text_rare": lambda i: {"q": order(i)},
        "text_common": lambda i: {"q": words[i % len(words)]},
        "text_masked": lambda i: {"q": "[EMAIL]"},
        "app_error_7d": lambda i: {"application": APPS[i % 5], "status": "error"}
                                  | window(i, 7),
        "model_slow": lambda i: {"model": MODELS[i % len(MODELS)],
                                 "min_latency_ms": fx.p99_latency},
        "gateway_text": lambda i: {"source": "gateway", "q": words[i % len(words)]},
        "key_2d": lambda i: {"key": KEYS[i % len(KEYS)]} | window(i, 2),
        "prompt_score": lambda i: {"prompt_id": f"prompt-{1 + i % 60:02d}",
                                   "score_below": 0.5, "score_name": "helpfulness"},
    }


def deep_cursor(params: dict, fx: Facts) -> str:
    """A cursor halfway through what ``params`` covers in time (for no time filter: half
    the stored days, ~rows/2 in)."""
    from services.registry.read.queries.traces import Cursor

    lo = datetime.fromisoformat(params["since"]) if "since" in params else fx.first
    hi = datetime.fromisoformat(params["until"]) if "until" in params else fx.last
    return Cursor(lo + (hi - lo) / 2, uuid.UUID(int=(1 << 128) - 1)).encode()


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[max(0, math.ceil(p * len(s)) - 1)]


async def explain(pool, params: dict, fx: Facts, deep: bool) -> dict:
    """The indexes the page's query uses and its execution time (EXPLAIN ANALYZE)."""
    from services.registry.read.queries.traces import (
        EXPLORER_SETTINGS,
        Cursor,
        TraceFilter,
        page_query,
    )

    fields = dict(params)
    for k in ("since", "until"):
        if k in fields:
            fields[k] = datetime.fromisoformat(fields[k])
    after = Cursor.decode(deep_cursor(params, fx)) if deep else None
    sql, args = page_query(TraceFilter(**fields), limit=50, after=after)
    async with pool.acquire() as conn, conn.transaction(readonly=True):
        await conn.execute(EXPLORER_SETTINGS)
        raw = await conn.fetchval(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {sql}", *args)
        plan = (json.loads(raw) if isinstance(raw, str) else raw)[0]  # the pool decodes json
        names: set[str] = set()
        nodes: list[str] = []

        def walk(node: dict, depth: int) -> None:
            if "Index Name" in node:
                names.add(node["Index Name"])
            if depth < 3 and node["Node Type"] not in nodes:
                nodes.append(node["Node Type"])
            for child in node.get("Plans", []):
                walk(child, depth + 1)

        walk(plan["Plan"], 0)
        # a partition's index stands for the table's (gateway_traces_20261107_..._idx)
        indexes = sorted({r["name"] for r in await conn.fetch(
            "SELECT coalesce(p.relname, c.relname) AS name FROM pg_class c "
            "LEFT JOIN pg_inherits i ON i.inhrelid = c.oid "
            "LEFT JOIN pg_class p ON p.oid = i.inhparent WHERE c.relname = ANY($1::text[])",
            list(names))})
    return {"execution_ms": round(plan["Execution Time"], 2),
            "planning_ms": round(plan["Planning Time"], 2),
            "top_nodes": nodes, "indexes": indexes}


async def measure(url: str, reps: int) -> dict:
    from harness import apikeys
    from services.registry.app import create_app
    from services.registry.runtime import Runtime

    rt = await Runtime.start(url, relay=False, pool_min=2, pool_max=10)
    try:
        fx = await facts(rt.pool)
        key = await apikeys.create_key(rt.pool, "bench-viewer", "viewer")
        app = create_app(runtime=rt)
        kinds = filters(fx)
        series: dict[str, list[float]] = {"baseline_readyz": []}
        items: dict[str, list[int]] = {}
        for name in kinds:
            for page in ("first", "deep"):
                series[f"{name}/{page}"] = []
                items[f"{name}/{page}"] = []
        series["get_one"] = []
        some_ids = [r["id"] for r in await rt.pool.fetch(
            "SELECT id FROM gateway_traces TABLESAMPLE SYSTEM (0.1) REPEATABLE (2) LIMIT 200")]
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://registry",
                                     headers={"Authorization": f"Bearer {key}"},
                                     timeout=60) as client:

            async def timed(path: str, params: dict | None = None) -> tuple[float, Any]:
                t = time.perf_counter()
                r = await client.get(path, params=params)
                elapsed = (time.perf_counter() - t) * 1000
                if r.status_code != 200:
                    raise RuntimeError(f"{path} {params}: {r.status_code} {r.text[:300]}")
                return elapsed, r.json()

            for warm in range(2):  # every path once or twice before timing
                await timed("/readyz")
                for make in kinds.values():
                    await timed("/traces", make(reps + warm))
            for i in range(reps):
                ms, _ = await timed("/readyz")
                series["baseline_readyz"].append(ms)
                for name, make in kinds.items():
                    params = make(i)
                    ms, body = await timed("/traces", params)
                    series[f"{name}/first"].append(ms)
                    items[f"{name}/first"].append(len(body["items"]))
                    ms, body = await timed("/traces",
                                           params | {"cursor": deep_cursor(params, fx)})
                    series[f"{name}/deep"].append(ms)
                    items[f"{name}/deep"].append(len(body["items"]))
                ms, _ = await timed(f"/traces/{some_ids[i % len(some_ids)]}")
                series["get_one"].append(ms)
        plans = {}
        for name, make in kinds.items():
            for page in ("first", "deep"):
                plans[f"{name}/{page}"] = await explain(rt.pool, make(0), fx, page == "deep")
        base_p95 = pct(series["baseline_readyz"], 0.95)
        results = {k: {"p50_ms": round(pct(v, 0.5), 1), "p95_ms": round(pct(v, 0.95), 1),
                       "max_ms": round(max(v), 1)} for k, v in series.items()}
        for k, counts in items.items():
            results[k]["items_mean"] = round(sum(counts) / len(counts), 1)
        explorer = {k: v for k, v in results.items() if k != "baseline_readyz"}
        worst = max(explorer, key=lambda k: explorer[k]["p95_ms"])
        return {
            "rows": fx.max_row,
            "scores": await rt.pool.fetchval("SELECT count(*) FROM trace_scores"),
            "partitions": await rt.pool.fetchval(
                "SELECT count(*) FROM pg_inherits WHERE inhparent = 'gateway_traces'::regclass"),
            "pg_trgm": await rt.pool.fetchval(
                "SELECT count(*) > 0 FROM pg_extension WHERE extname = 'pg_trgm'"),
            "thresholds": {"min_latency_ms_p99": fx.p99_latency,
                           "min_cost_usd_p99": fx.p99_cost},
            "reps": reps, "page_size": 50,
            "baseline": {"endpoint": "GET /readyz"} | results.pop("baseline_readyz"),
            "worst_p95_ms": explorer[worst]["p95_ms"], "worst": worst,
            "under_300ms": explorer[worst]["p95_ms"] < 300,
            "worst_p95_over_baseline": round(explorer[worst]["p95_ms"] / base_p95, 1),
            "ratios_p95_over_baseline": {k: round(v["p95_ms"] / base_p95, 1)
                                         for k, v in explorer.items()},
            "results": explorer,
            "plans": plans,
        }
    finally:
        await rt.stop()


async def upgrade(url: str) -> dict:
    """Apply the pending migrations to a kept database (as a deployment does) and, when
    there were any, gather statistics again."""
    from harness.db import create_pool
    from services.registry.runtime import migrate_all

    pool = await create_pool(url, min_size=1, max_size=1)
    try:
        t = time.perf_counter()
        applied = await migrate_all(pool)
        migrate_s = time.perf_counter() - t
        if applied:
            await pool.execute("ANALYZE gateway_traces; ANALYZE trace_scores")
    finally:
        await pool.close()
    return {"applied": applied, "migrate_s": round(migrate_s, 1)}


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--reps", type=int, default=30)
    ap.add_argument("--keep", action="store_true", help="leave the database")
    ap.add_argument("--reuse", metavar="NAME", help="measure this existing database again")
    args = ap.parse_args()
    configure_logging("WARNING")
    import asyncpg

    admin = admin_url()
    name = args.reuse or f"bench_traces_{os.getpid()}"
    out: dict[str, Any] = {"database": name}
    conn = await asyncpg.connect(admin)
    try:
        if not args.reuse:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await conn.execute(f'CREATE DATABASE "{name}"')
        url = with_db(admin, name)
        if args.reuse:
            out["upgrade"] = await upgrade(url)
        else:
            from services.registry.runtime import Runtime

            rt = await Runtime.start(url, relay=False, pool_min=1, pool_max=2)  # migrations
            await rt.stop()
            out["fill"] = await fill(url, args.rows, args.days)
        out |= await measure(url, args.reps)
        out["load_avg"] = [round(x, 2) for x in os.getloadavg()]
        out["cpus"] = os.cpu_count()
    finally:
        if not args.keep and not args.reuse:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
