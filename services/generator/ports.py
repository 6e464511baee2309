"""What the generator needs from the outside besides the artifact store: what a
generation has recorded so far (its facts go to a ``services.worker_results.ResultSink``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class Recorded:
    """A generation as the registry has it: its status and the batches recorded."""

    status: str
    batches: frozenset[int] = field(default_factory=frozenset)
    generated: int = 0
    failed: int = 0

    @property
    def finished(self) -> bool:
        return self.status in ("completed", "failed", "cancelled")


class GenerationProgress(Protocol):
    async def recorded(self, generation_id: str) -> Recorded | None:
        """None when the registry does not know the generation (yet)."""

    async def unfinished(self) -> list[str]:
        """Generations requested and not finished (resumed after a restart)."""
