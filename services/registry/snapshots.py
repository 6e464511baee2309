"""A dataset's snapshot as the registry takes it: its cases in order, read in one
read-only transaction (the format is :mod:`harness.datasets.snapshots`)."""

from __future__ import annotations

import asyncpg

from harness.datasets.snapshots import snapshot_bytes, snapshot_line


async def dataset_snapshot(conn: asyncpg.Connection, dataset_id: str) -> tuple[bytes, int]:
    lines: list[bytes] = []
    async with conn.transaction(readonly=True):
        async for r in conn.cursor(
                "SELECT id, input, expected_output, metadata, assertions, threshold "
                "FROM test_cases WHERE dataset_id = $1 ORDER BY position", dataset_id,
                prefetch=2000):
            lines.append(snapshot_line({
                "id": r["id"], "input": r["input"], "expected_output": r["expected_output"],
                "metadata": r["metadata"], "assert": r["assertions"],
                "threshold": r["threshold"]}))
    return snapshot_bytes(lines), len(lines)
