"""Applications: create one on a prompt, change it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import asyncpg

from harness.events import EventMetadata, StoredEvent, streams
from harness.events.base import DomainEvent

from ..commands import EventSourced, Snapshotted
from ..domain import applications as domain
from ..domain.errors import Invalid

if TYPE_CHECKING:
    from ..runtime import Runtime

APPLICATION = Snapshotted("application", domain.STATE_SCHEMA,
                          EventSourced(domain.ApplicationState(), domain.replay))

Command = domain.CreateApplication | domain.UpdateApplication


async def handle(rt: Runtime, application_id: str, command: Command, metadata: EventMetadata,
                 ) -> tuple[domain.ApplicationState, list[StoredEvent]]:
    prompt_id = (command.prompt_id if isinstance(command, domain.CreateApplication)
                 else command.changes.get("prompt_id"))

    async def decide(conn: asyncpg.Connection,
                     state: domain.ApplicationState) -> list[DomainEvent]:
        if prompt_id is not None and not await conn.fetchval(
                "SELECT 1 FROM prompts WHERE id = $1", prompt_id):
            raise Invalid(f"prompt_id: prompt {prompt_id} not found", field="prompt_id")
        return domain.decide(command, state)

    return await rt.commands.execute(streams.application(application_id), APPLICATION, decide,
                                     metadata)
