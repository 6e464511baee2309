"""Dataset snapshots: the cases at one moment, as canonical JSONL named by content hash."""

from __future__ import annotations

import hashlib

import asyncpg
import orjson

from harness.artifacts import ArtifactStore


async def dataset_snapshot(conn: asyncpg.Connection, dataset_id: str) -> tuple[bytes, int]:
    lines: list[bytes] = []
    async with conn.transaction(readonly=True):
        async for r in conn.cursor(
                "SELECT id, input, expected_output, metadata, assertions, threshold "
                "FROM test_cases WHERE dataset_id = $1 ORDER BY position", dataset_id,
                prefetch=2000):
            lines.append(orjson.dumps({
                "id": r["id"], "input": r["input"], "expected_output": r["expected_output"],
                "metadata": r["metadata"], "assert": r["assertions"],
                "threshold": r["threshold"]}, option=orjson.OPT_SORT_KEYS))
    return (b"\n".join(lines) + b"\n" if lines else b""), len(lines)


async def write_snapshot(artifacts: ArtifactStore, data: bytes) -> tuple[str, str]:
    sha = hashlib.sha256(data).hexdigest()
    uri = await artifacts.put(f"snapshots/{sha}.jsonl", data, "application/x-ndjson")
    return uri, sha


def read_snapshot(data: bytes, expected_sha256: str) -> list[dict]:
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected_sha256:
        raise ValueError(f"snapshot content hash {actual} does not match {expected_sha256}")
    return [orjson.loads(line) for line in data.splitlines() if line.strip()]
