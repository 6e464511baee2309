"""Reads of the review of generated cases: the queue (pending, accepted and rejected
cases, a rejected one as it was when turned down) and the cases a promotion copies."""

from __future__ import annotations

import asyncpg

from ...schemas import Page, ReviewCaseOut
from .datasets import get_dataset

_COLS = ("id, dataset_id, input, expected_output, metadata, assertions, threshold, "
         "created_at, updated_at, review_status, reviewed_by, reviewed_at, review_note")
# the same columns of a rejected case (kept in rejected_cases as it was when rejected)
_REJECTED_COLS = ("id, dataset_id, input, expected_output, metadata, assertions, threshold, "
                  "created_at, reviewed_at, 'rejected'::text, reviewed_by, reviewed_at, "
                  "review_note")

# generated cases of dataset $1 with review status $2 (or 'all'), of generation $3 (or any)
_QUEUE = f"""
    SELECT * FROM (
        SELECT {_COLS}, position FROM test_cases
         WHERE dataset_id = $1 AND review_status IS NOT NULL
           AND ($2::text = 'all' OR review_status = $2)
        UNION ALL
        SELECT {_REJECTED_COLS}, position FROM rejected_cases
         WHERE dataset_id = $1 AND $2::text IN ('all', 'rejected')
    ) AS q WHERE $3::text IS NULL OR metadata->>'generation_id' = $3"""


def _case(row) -> dict:
    d = dict(row)
    d["assert"] = d.pop("assertions")
    return d


def _review_out(row) -> ReviewCaseOut:
    d = _case(row)
    d.pop("position", None)
    return ReviewCaseOut(**d)


async def review_queue(pool: asyncpg.Pool, dataset_id: str, status: str,
                       generation_id: str | None, limit: int, offset: int
                       ) -> Page[ReviewCaseOut]:
    """The dataset's generated cases with ``status`` (or ``all``), oldest first (a 404 for
    an unknown dataset)."""
    await get_dataset(pool, dataset_id)
    total = await pool.fetchval(f"SELECT count(*) FROM ({_QUEUE}) AS c",
                                dataset_id, status, generation_id)
    rows = await pool.fetch(f"{_QUEUE} ORDER BY position, id LIMIT $4 OFFSET $5",
                            dataset_id, status, generation_id, limit, offset)
    return Page(items=[_review_out(r) for r in rows], total=total, limit=limit, offset=offset)


async def pending_count(pool: asyncpg.Pool, dataset_id: str) -> int:
    """Generated cases of the dataset still to review."""
    return await pool.fetchval(
        "SELECT count(*) FROM test_cases WHERE dataset_id = $1 AND review_status = 'pending'",
        dataset_id)


async def cases_with_review(pool: asyncpg.Pool, dataset_id: str, case_ids: list[str]
                            ) -> dict[str, dict]:
    """Those of ``case_ids`` in the dataset, by id: content (``assert``, not the column
    name) and review status."""
    rows = await pool.fetch(
        f"SELECT {_COLS} FROM test_cases WHERE dataset_id = $1 AND id = ANY($2::text[])",
        dataset_id, case_ids)
    return {r["id"]: _case(r) for r in rows}
