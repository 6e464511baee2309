"""Applications: create one on a prompt, change it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import asyncpg

from harness import prompt_config
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


_VERSION_CONFIG_SQL = """
SELECT v.config
  FROM prompts p
  LEFT JOIN prompt_environments e ON e.prompt_id = p.id AND e.environment = $2
  JOIN prompt_versions v ON v.prompt_id = p.id
       AND v.version = CASE WHEN $2 = 'production' THEN p.active_version ELSE e.version END
 WHERE p.id = $1
"""


async def _check_model(conn: asyncpg.Connection, command: Command,
                       state: domain.ApplicationState) -> None:
    """An application left without a model runs on its version's config model: refuse one
    whose environment's version has none now (a later move to such a version makes
    ``resolved`` a 409 ``model-unset``)."""
    if isinstance(command, domain.CreateApplication):
        model, prompt, env = command.model_id, command.prompt_id, command.environment
    else:
        changes = command.changes
        if not {"model_id", "prompt_id", "environment"} & set(changes):
            return
        model = changes["model_id"] if "model_id" in changes else state.model_id
        prompt = changes.get("prompt_id") or state.prompt_id
        env = changes.get("environment") or state.environment
    if model:
        return
    config = await conn.fetchval(_VERSION_CONFIG_SQL, prompt, env)
    if config is not None and not prompt_config.model_of(config):
        raise Invalid(f"model_id: the version environment {env!r} of the prompt points at has "
                      "no config.model; name the application's model", field="model_id")


async def handle(rt: Runtime, application_id: str, command: Command, metadata: EventMetadata,
                 ) -> tuple[domain.ApplicationState, list[StoredEvent]]:
    prompt_id = (command.prompt_id if isinstance(command, domain.CreateApplication)
                 else command.changes.get("prompt_id"))

    async def decide(conn: asyncpg.Connection,
                     state: domain.ApplicationState) -> list[DomainEvent]:
        if prompt_id is not None and not await conn.fetchval(
                "SELECT 1 FROM prompts WHERE id = $1", prompt_id):
            raise Invalid(f"prompt_id: prompt {prompt_id} not found", field="prompt_id")
        events = domain.decide(command, state)
        if events:
            await _check_model(conn, command, state)
        return events

    return await rt.commands.execute(streams.application(application_id), APPLICATION, decide,
                                     metadata)
