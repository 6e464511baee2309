"""Generations of synthetic cases: request one, cancel one."""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.events import EventMetadata, StoredEvent, streams

from ..commands import EventSourced, pure
from ..domain import generations as domain

if TYPE_CHECKING:
    from ..runtime import Runtime

GENERATION = EventSourced(domain.GenerationState(), domain.replay)


async def handle(rt: Runtime, generation_id: str, command: domain.Command,
                 metadata: EventMetadata) -> list[StoredEvent]:
    _, stored = await rt.commands.execute(
        streams.generation(generation_id), GENERATION,
        pure(lambda state: domain.decide(command, state)), metadata)
    return stored
