"""Prompts: create, rename, add versions, activate one (a rollback is an activation).

A new version's ``{{ prompt("name@label") }}`` references are bound to the prompts they
name (``composition.bind``: a 422 when one names nothing, closes a cycle or nests too
deep). An activation moves production, so the prompts that reference this one get a
``PromptReferenceMoved`` in the same transaction (their streams are locked with it).

An activation is a move of production: when the prompt's policy governs production, the
move is refused unless the policy allows it directly (``governance.check_direct_move``),
with the policy and the gate's evidence looked up under the stream's lock.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import asyncpg

from harness.events import EventMetadata, StoredEvent, streams
from harness.events.base import DomainEvent

from .. import reactions
from ..domain import governance
from ..domain import prompts as domain
from ..read.queries import composition
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
            if isinstance(command, domain.ActivateVersion):  # a new version was just checked
                await composition.refuse_cycle(conn, state, version)
        elif version is not None and domain.PRODUCTION in state.splits:
            # activating the active version ends production's split (no gate: it is there)
            ctx = await governance_handlers.context(conn, state, metadata, None,
                                                    domain.PRODUCTION)
            governance.check_end_split(state, domain.PRODUCTION, ctx)
        return domain.decide(await _bound(conn, prompt_id, command, state), state)

    locked: list[str] = []
    if isinstance(command, domain.ActivateVersion) or (
            isinstance(command, domain.CreateVersion) and command.activate):
        locked = await reactions.dependent_streams(rt.pool, prompt_id)
    return await rt.commands.execute(streams.prompt(prompt_id), PROMPT, decide, metadata,
                                     also_lock=locked, react=reactions.references_moved(locked))


async def _bound(conn: asyncpg.Connection, prompt_id: str, command: domain.Command,
                 state: domain.PromptState) -> domain.Command:
    """A new version's command with its references bound (checked first as content)."""
    if isinstance(command, domain.CreatePrompt) and not state.exists:
        domain.check_content(command.content)
        refs = await composition.bind(conn, prompt_id, command.name, 1, command.content)
        return replace(command, references=refs)
    if isinstance(command, domain.CreateVersion) and state.exists:
        domain.check_content(command.content)
        refs = await composition.bind(conn, prompt_id, state.name, state.latest_version + 1,
                                      command.content)
        return replace(command, references=refs)
    return command
