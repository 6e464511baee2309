"""Command handling: load an aggregate, decide, append and project in one transaction.

Writers of one stream are serialised by a transaction-level advisory lock on the stream,
so concurrent commands never lose a write and never need a blind retry; the append still
carries the expected version as a second guard (a mismatch is a 409).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import asyncpg

from harness.events import EventMetadata, StoredEvent
from harness.events.base import DomainEvent
from harness.eventstore import EventStore

from . import projections
from .domain import applications as app_domain
from .domain import prompts as prompt_domain
from .domain.errors import AlreadyExists, Invalid

S = TypeVar("S")


def prompt_stream(prompt_id: str) -> str:
    return f"prompt-{prompt_id}"


def application_stream(application_id: str) -> str:
    return f"application-{application_id}"


def fold_prompt(events: list[StoredEvent]) -> prompt_domain.PromptState:
    from harness.events import registry

    state = prompt_domain.PromptState()
    for ev in events:
        state = prompt_domain.evolve(state, registry.decode(ev), ev.recorded_at, ev.metadata.actor)
    return state


def fold_application(events: list[StoredEvent]) -> app_domain.ApplicationState:
    from harness.events import registry

    state = app_domain.ApplicationState()
    for ev in events:
        state = app_domain.evolve(state, registry.decode(ev), ev.recorded_at)
    return state


class CommandHandler:
    def __init__(self, store: EventStore) -> None:
        self.store = store
        # called with the stream id after a command's transaction committed
        self.on_commit: list[Callable[[str], None]] = []

    async def _execute(
        self,
        stream_id: str,
        fold: Callable[[list[StoredEvent]], S],
        decide: Callable[[S], list[DomainEvent]],
        metadata: EventMetadata,
        *,
        precheck: Callable[[asyncpg.Connection, S], Any] | None = None,
    ) -> tuple[S, list[StoredEvent]]:
        state, stored = await self._execute_in_transaction(stream_id, fold, decide, metadata,
                                                           precheck=precheck)
        if stored:
            for hook in self.on_commit:
                hook(stream_id)
        return state, stored

    async def _execute_in_transaction(self, stream_id, fold, decide, metadata, *, precheck):
        async with self.store.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", stream_id)
            history = await self.store.read_stream(stream_id, conn=conn)
            state = fold(history)
            if precheck is not None:
                await precheck(conn, state)
            new = decide(state)
            if not new:
                return state, []
            try:
                stored = await self.store.append(
                    stream_id, len(history), [e.to_new(metadata) for e in new], conn=conn
                )
                for ev in stored:
                    await projections.apply(conn, ev)
            except asyncpg.UniqueViolationError as exc:
                if "name_key" in (exc.constraint_name or ""):
                    raise AlreadyExists("name is already taken", field="name") from exc
                raise
            return fold(history + stored), stored

    # ---- prompts ----------------------------------------------------------------------

    async def prompt(
        self, prompt_id: str, command: prompt_domain.Command, metadata: EventMetadata
    ) -> tuple[prompt_domain.PromptState, list[StoredEvent]]:
        return await self._execute(
            prompt_stream(prompt_id), fold_prompt,
            lambda state: prompt_domain.decide(command, state), metadata,
        )

    async def load_prompt(self, prompt_id: str, until: datetime | None = None
                          ) -> prompt_domain.PromptState:
        return fold_prompt(await self.store.read_stream(prompt_stream(prompt_id), until=until))

    # ---- applications -----------------------------------------------------------------

    async def application(
        self,
        application_id: str,
        command: app_domain.CreateApplication | app_domain.UpdateApplication,
        metadata: EventMetadata,
    ) -> tuple[app_domain.ApplicationState, list[StoredEvent]]:
        prompt_id = (command.prompt_id if isinstance(command, app_domain.CreateApplication)
                     else command.changes.get("prompt_id"))

        async def precheck(conn: asyncpg.Connection, _state) -> None:
            if prompt_id is not None and not await conn.fetchval(
                "SELECT 1 FROM prompts WHERE id = $1", prompt_id
            ):
                raise Invalid(f"prompt_id: prompt {prompt_id} not found", field="prompt_id")

        return await self._execute(
            application_stream(application_id), fold_application,
            lambda state: app_domain.decide(command, state), metadata, precheck=precheck,
        )
