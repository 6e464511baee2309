"""Dataset snapshots: the cases of a dataset at one moment, as canonical JSONL named by
content hash. The registry writes one when a run is requested; the runner and the scorer
read the one a run pinned, and refuse bytes whose hash is not the pinned one."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import orjson

from harness.artifacts import ArtifactStore


def snapshot_line(case: Mapping[str, Any]) -> bytes:
    """One case as a snapshot line: JSON with sorted keys, so the same case is always the
    same bytes (and the same dataset the same hash)."""
    return orjson.dumps(case, option=orjson.OPT_SORT_KEYS)


def snapshot_bytes(lines: list[bytes]) -> bytes:
    """The snapshot of ``lines`` (from :func:`snapshot_line`): one per line, newline-ended."""
    return b"\n".join(lines) + b"\n" if lines else b""


async def write_snapshot(artifacts: ArtifactStore, data: bytes) -> tuple[str, str]:
    """Store ``data`` under its SHA-256; returns (uri, sha256)."""
    sha = hashlib.sha256(data).hexdigest()
    uri = await artifacts.put(f"snapshots/{sha}.jsonl", data, "application/x-ndjson")
    return uri, sha


def read_snapshot(data: bytes, expected_sha256: str) -> list[dict]:
    """The cases of a snapshot; a ValueError when ``data`` is not the pinned content."""
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected_sha256:
        raise ValueError(f"snapshot content hash {actual} does not match {expected_sha256}")
    return [orjson.loads(line) for line in data.splitlines() if line.strip()]
