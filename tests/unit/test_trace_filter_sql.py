"""The trace explorer's SQL without I/O: each filter's condition and arguments, and the
cursor's bound that lets the planner skip newer day partitions."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from services.registry.read.queries.traces import Cursor, TraceFilter, page_query, where_clause

T = datetime(2026, 3, 1, 12, tzinfo=UTC)
KEY = uuid.UUID("11111111-2222-3333-4444-555555555555")


def test_no_filter_selects_everything():
    assert where_clause(TraceFilter()) == ("TRUE", [])


@pytest.mark.parametrize(("f", "sql", "args"), [
    (TraceFilter(since=T), "created_at >= $1", [T]),
    (TraceFilter(until=datetime(2026, 3, 1, 12)), "created_at < $1", [T]),  # naive = UTC
    (TraceFilter(source="runner"), "source = $1", ["runner"]),
    (TraceFilter(model="m"), "(model_requested = $1 OR model_answered = $1)", ["m"]),
    (TraceFilter(application="bot"), "application = $1", ["bot"]),
    (TraceFilter(prompt_id="p", prompt_version=2), "prompt_id = $1 AND prompt_version = $2",
     ["p", 2]),
    (TraceFilter(key=str(KEY)), "key_id = $1", [KEY]),
    (TraceFilter(key="team-a"), "key_name = $1", ["team-a"]),
    (TraceFilter(status="ok"), "status < 400", []),
    (TraceFilter(status="error"), "status >= 400", []),
    (TraceFilter(min_latency_ms=500.0), "latency_ms >= $1", [500.0]),
    (TraceFilter(min_cost_usd=0.1), "cost_usd >= $1::numeric", [Decimal("0.1")]),
    (TraceFilter(q="50%_off"),
     "((request::text) ILIKE $1 ESCAPE '\\' OR (response::text) ILIKE $1 ESCAPE '\\')",
     ["%50\\%\\_off%"]),
    (TraceFilter(score_below=0.5, score_name="polite"),
     "EXISTS (SELECT 1 FROM trace_scores s WHERE s.trace_id = gateway_traces.id "
     "AND s.value < $1 AND s.name = $2)", [0.5, "polite"]),
])
def test_each_filter_is_one_condition_with_its_arguments(f, sql, args):
    assert where_clause(f) == (sql, args)


def test_filters_combine_with_and_numbering_their_arguments_in_order():
    sql, args = where_clause(TraceFilter(since=T, application="bot", status="error",
                                         q="refund", score_below=0.2))
    assert sql.count(" AND ") == 5  # four joins plus the one inside the score's EXISTS
    placeholders = sorted({int(n) for n in re.findall(r"\$(\d+)", sql)})
    assert placeholders == list(range(1, len(args) + 1))
    assert args == [T, "bot", "%refund%", 0.2]


def test_a_page_after_a_cursor_is_bounded_by_its_time_for_partition_pruning():
    after = Cursor(T, KEY)
    sql, args = page_query(TraceFilter(application="bot"), limit=50, after=after)
    assert "application = $1 AND created_at <= $2 AND (created_at, id) < ($2, $3)" in sql
    assert sql.endswith("ORDER BY created_at DESC, id DESC LIMIT $4")
    assert args == ["bot", T, KEY, 51]


def test_a_first_page_asks_one_row_more_than_its_size():
    sql, args = page_query(TraceFilter(), limit=20)
    assert "WHERE TRUE ORDER BY created_at DESC, id DESC LIMIT $1" in sql and args == [21]


def test_a_score_filter_walks_the_scores_in_trace_time_and_reads_each_trace_by_its_key():
    after = Cursor(T, KEY)
    sql, args = page_query(TraceFilter(score_below=0.5, score_name="polite", since=T,
                                       application="bot"), limit=10, after=after)
    assert sql.startswith("SELECT DISTINCT ON (s.trace_created_at, s.trace_id) t.id, ")
    trace, keys = sql.split(" FROM trace_scores s, LATERAL (")[1].split(" OFFSET 0) t WHERE ")
    assert trace.endswith("FROM gateway_traces WHERE id = s.trace_id AND "
                          "created_at = s.trace_created_at AND application = $6")
    assert keys == ("s.trace_created_at IS NOT NULL AND s.value < $1 AND s.name = $2 AND "
                    "s.trace_created_at >= $3 AND s.trace_created_at <= $4 AND "
                    "(s.trace_created_at, s.trace_id) < ($4, $5) "
                    "ORDER BY s.trace_created_at DESC, s.trace_id DESC LIMIT $7")
    assert args == [0.5, "polite", T, T, KEY, "bot", 11]


def test_a_score_filter_with_free_text_tests_each_trace_found_by_its_text():
    sql, args = page_query(TraceFilter(score_below=0.5, q="refund"), limit=10)
    assert sql.startswith("SELECT id, created_at,") and "LATERAL" not in sql
    assert "EXISTS (SELECT 1 FROM trace_scores s WHERE s.trace_id = gateway_traces.id " \
           "AND s.value < $2)" in sql and args == ["%refund%", 0.5, 11]
