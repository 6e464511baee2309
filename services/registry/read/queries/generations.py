"""Reads of generations (synthetic test data requests) and their progress."""

from __future__ import annotations

import asyncpg

from ...domain.errors import NotFound
from ...schemas import GenerationOut, Page
from .datasets import get_dataset


def _generation_out(row) -> GenerationOut:
    """The row as the API shows it: documents without their artifact URI, progress over
    the questions asked for."""
    d = dict(row)
    d["requested"] = d.pop("num_questions")
    d["documents"] = [{k: v for k, v in doc.items() if k != "uri"} for doc in d["documents"]]
    d["progress"] = min(1.0, (d["generated"] + d["failed"]) / d["requested"]) if (
        d["status"] != "completed") else 1.0
    d["batches"] = sorted(d["batches"])
    return GenerationOut(**d)


async def get_generation(pool: asyncpg.Pool, generation_id: str) -> GenerationOut:
    row = await pool.fetchrow("SELECT * FROM generations WHERE id = $1", generation_id)
    if row is None:
        raise NotFound(f"generation {generation_id} not found")
    return _generation_out(row)


async def list_generations(pool: asyncpg.Pool, dataset_id: str, limit: int, offset: int
                           ) -> Page[GenerationOut]:
    """The dataset's generations, newest first (a 404 for an unknown dataset)."""
    await get_dataset(pool, dataset_id)
    total = await pool.fetchval("SELECT count(*) FROM generations WHERE dataset_id = $1",
                                dataset_id)
    rows = await pool.fetch(
        "SELECT * FROM generations WHERE dataset_id = $1 ORDER BY requested_at DESC "
        "LIMIT $2 OFFSET $3", dataset_id, limit, offset)
    return Page(items=[_generation_out(r) for r in rows], total=total, limit=limit,
                offset=offset)
