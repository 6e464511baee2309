"""Prompts: create, rename, add versions, activate one (a rollback is an activation).

An activation is a move of production: when the prompt's policy governs production, the
move is refused unless the policy allows it directly (``governance.check_direct_move``),
with the policy and the gate's evidence looked up under the stream's lock.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import asyncpg

from harness.events import EventMetadata, StoredEvent, streams
from harness.events.base import DomainEvent

from ..domain import governance
from ..domain import prompts as domain
from . import governance as governance_handlers
from .prompt_aggregate import PROMPT

if TYPE_CHECKING:
    from ..runtime import Runtime

def _moved_to(command: domain.Command, state: domain.PromptState) -> int | None:
    """The version a command makes active, if it activates one."""
    if isinstance(command, domain.ActivateVersion):
        return command.version
    if isinstance(command, domain.CreateVersion) and command.activate:
        return state.latest_version + 1
    return None


async def handle(rt: Runtime, prompt_id: str, command: domain.Command, metadata: EventMetadata,
                 ) -> tuple[domain.PromptState, list[StoredEvent]]:
    async def decide(conn: asyncpg.Connection, state: domain.PromptState) -> list[DomainEvent]:
        version = _moved_to(command, state) if state.exists else None
        if version is not None and version != state.active_version:
            ctx = await governance_handlers.context(conn, state, metadata, version,
                                                    domain.PRODUCTION)
            governance.check_direct_move(state, domain.PRODUCTION, ctx)
        elif version is not None and domain.PRODUCTION in state.splits:
            # activating the active version ends production's split (no gate: it is there)
            ctx = await governance_handlers.context(conn, state, metadata, None,
                                                    domain.PRODUCTION)
            governance.check_end_split(state, domain.PRODUCTION, ctx)
        return domain.decide(command, state)

    return await rt.commands.execute(streams.prompt(prompt_id), PROMPT, decide, metadata)
