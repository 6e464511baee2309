"""What the runner needs from the outside: where results go, and what is already done."""

from __future__ import annotations

import uuid
from typing import Protocol

from harness.events.base import DomainEvent


class ResultSink(Protocol):
    """Publishes result events for the registry to ingest (deterministic event ids)."""

    async def publish(self, stream_id: str, event: DomainEvent, event_id: uuid.UUID) -> None: ...

    async def flush(self) -> None: ...


class RunProgress(Protocol):
    async def recorded_keys(self, run_id: str) -> set[tuple[str, str, int]]:
        """(case_id, target_id, repeat) of the results already recorded."""

    async def results(self, run_id: str) -> list[dict]: ...

    async def status(self, run_id: str) -> str | None: ...

    async def unfinished_runs(self) -> list[str]: ...
