"""Reads of datasets and their cases, and the cases as a download (JSONL or CSV)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator

import asyncpg
import orjson

from harness import csv_cells

from ...domain.errors import NotFound
from ...schemas import CaseOut, DatasetOut, Page
from .search import contains_pattern

_CASE_COLS = ("id, dataset_id, input, expected_output, metadata, assertions, threshold, "
              "created_at, updated_at")


def _case_out(row) -> CaseOut:
    d = dict(row)
    d["assert"] = d.pop("assertions")
    return CaseOut(**d)


async def get_dataset(pool: asyncpg.Pool, dataset_id: str) -> DatasetOut:
    row = await pool.fetchrow("SELECT * FROM datasets WHERE id = $1", dataset_id)
    if row is None:
        raise NotFound(f"dataset {dataset_id} not found")
    return DatasetOut(**dict(row))


async def list_datasets(pool: asyncpg.Pool, q: str | None, dataset_type: str | None,
                        limit: int, offset: int) -> Page[DatasetOut]:
    pattern = contains_pattern(q)
    where = "name ILIKE $1 ESCAPE '\\' AND ($2::text IS NULL OR dataset_type = $2)"
    total = await pool.fetchval(f"SELECT count(*) FROM datasets WHERE {where}", pattern,
                                dataset_type)
    rows = await pool.fetch(
        f"SELECT * FROM datasets WHERE {where} ORDER BY name LIMIT $3 OFFSET $4",
        pattern, dataset_type, limit, offset)
    return Page(items=[DatasetOut(**dict(r)) for r in rows], total=total, limit=limit,
                offset=offset)


async def list_cases(pool: asyncpg.Pool, dataset_id: str, limit: int, offset: int
                     ) -> Page[CaseOut]:
    """The dataset's cases in order (a 404 for an unknown dataset)."""
    ds = await get_dataset(pool, dataset_id)
    rows = await pool.fetch(
        f"SELECT {_CASE_COLS} FROM test_cases WHERE dataset_id = $1 ORDER BY position "
        "LIMIT $2 OFFSET $3", dataset_id, limit, offset)
    return Page(items=[_case_out(r) for r in rows], total=ds.case_count, limit=limit,
                offset=offset)


async def cases_by_id(pool: asyncpg.Pool, case_ids: list[str]) -> list[CaseOut]:
    """The cases with these ids, in dataset order."""
    rows = await pool.fetch(f"SELECT {_CASE_COLS} FROM test_cases WHERE id = ANY($1) "
                            "ORDER BY position", case_ids)
    return [_case_out(r) for r in rows]


async def get_case(pool: asyncpg.Pool, case_id: str) -> CaseOut:
    row = await pool.fetchrow(f"SELECT {_CASE_COLS} FROM test_cases WHERE id = $1", case_id)
    return _case_out(row)


async def _case_rows(pool: asyncpg.Pool, dataset_id: str) -> AsyncIterator[asyncpg.Record]:
    async with pool.acquire() as conn, conn.transaction():
        async for r in conn.cursor(
                f"SELECT {_CASE_COLS} FROM test_cases WHERE dataset_id = $1 "
                "ORDER BY position", dataset_id, prefetch=1000):
            yield r


async def cases_jsonl(pool: asyncpg.Pool, dataset_id: str) -> AsyncIterator[bytes]:
    """The dataset's cases, one JSON object a line (read with a cursor as they stream)."""
    async for r in _case_rows(pool, dataset_id):
        yield orjson.dumps({"id": r["id"], "input": r["input"],
                            "expected_output": r["expected_output"],
                            "metadata": r["metadata"], "assert": r["assertions"],
                            "threshold": r["threshold"]}) + b"\n"


async def cases_csv(pool: asyncpg.Pool, dataset_id: str, raw: bool) -> AsyncIterator[str]:
    """The dataset's cases as CSV lines: a column per input variable, then the expected
    output, description, threshold and assertions. Cells a spreadsheet would run as a
    formula get a leading ``'`` unless ``raw``. The header is read before streaming."""
    var_names = await pool.fetchval(
        "SELECT coalesce(array_agg(DISTINCT k ORDER BY k), '{}') FROM test_cases, "
        "jsonb_object_keys(input) AS k WHERE dataset_id = $1", dataset_id)
    cell = (lambda v: v) if raw else csv_cells.neutralise

    async def lines() -> AsyncIterator[str]:
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow([cell(c) for c in (*var_names, "expected_output", "__description",
                                           "__threshold", "__assert_json")])
        async for r in _case_rows(pool, dataset_id):
            inp = r["input"]
            values = [v if isinstance(v := inp.get(k, ""), str) else json.dumps(v)
                      for k in var_names]
            values += [r["expected_output"] or "", r["metadata"].get("description", ""),
                       "" if r["threshold"] is None else r["threshold"],
                       json.dumps(r["assertions"]) if r["assertions"] else ""]
            writer.writerow([cell(v) for v in values])
            if buf.tell() > 65536:
                yield buf.getvalue()
                buf.seek(0)
                buf.truncate()
        yield buf.getvalue()

    return lines()
