"""What the runner needs from the outside besides the artifact store: what is already
done (results go to a ``services.worker_results.ResultSink``)."""

from __future__ import annotations

from typing import Protocol


class RunProgress(Protocol):
    async def recorded_keys(self, run_id: str, shard: int | None = None
                            ) -> set[tuple[str, str, int]]:
        """(case_id, target_id, repeat) of the results already recorded; with ``shard``,
        those of that shard (and any recorded without one), so a shard's runner reads a
        few hundred keys, not the whole run's."""

    async def results(self, run_id: str) -> list[dict]: ...

    async def status(self, run_id: str) -> str | None: ...

    async def unfinished_runs(self) -> list[str]: ...
