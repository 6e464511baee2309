"""Command handling: load an aggregate, decide, append and project in one transaction.

Writers of one stream are serialised by a transaction-level advisory lock on the stream,
so concurrent commands never lose a write and never need a blind retry; the append still
carries the expected version as a second guard (a mismatch is a 409). Writers queue for a
stream in process before they take a connection, and for at most
``HARNESS_STREAM_LOCK_WAIT_S`` (``harness.eventstore.stream_locks``): a busy stream neither
takes the whole pool nor keeps a client waiting without bound (``StreamBusy``, a 503).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import asyncpg
import structlog

from harness.events import EventMetadata, StoredEvent
from harness.events.base import DomainEvent
from harness.eventstore import EventStore, StreamLocks, locked_transaction
from harness.storable import is_unstorable

from . import reactions
from .domain import applications as app_domain
from .domain import datasets as dataset_domain
from .domain import generations as generation_domain
from .domain import governance
from .domain import prompts as prompt_domain
from .domain.errors import AlreadyExists, Invalid
from .read import projections

S = TypeVar("S")

log = structlog.get_logger(__name__)


def prompt_stream(prompt_id: str) -> str:
    return f"prompt-{prompt_id}"


def application_stream(application_id: str) -> str:
    return f"application-{application_id}"


def dataset_stream(dataset_id: str) -> str:
    return f"dataset-{dataset_id}"


def run_stream(run_id: str) -> str:
    return f"run-{run_id}"


def generation_stream(generation_id: str) -> str:
    return f"generation-{generation_id}"


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
        self.stream_locks = StreamLocks()
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
        load=None,
    ) -> tuple[S, list[StoredEvent]]:
        state, stored = await self._execute_in_transaction(stream_id, fold, decide, metadata,
                                                           precheck=precheck, load=load)
        if stored:
            for hook in self.on_commit:
                hook(stream_id)
        return state, stored

    def _locked(self, streams: list[str]):
        """A transaction holding the streams' locks, waited for within the bound."""
        from harness.config import get_settings

        return locked_transaction(self.store.pool, self.stream_locks, streams,
                                  get_settings().stream_lock_wait_s)

    async def _execute_in_transaction(self, stream_id, fold, decide, metadata, *, precheck,
                                      load=None):
        async with self._locked([stream_id]) as conn:
            if load is not None:
                # state from the read model, which this lock keeps in step with the stream
                version = await self.store.stream_version(stream_id, conn=conn)
                state = await load(conn)
                new = decide(state)
                if not new:
                    return state, []
                stored = await self._append_and_project(conn, stream_id, version, new, metadata)
                return state, stored
            history = await self.store.read_stream(stream_id, conn=conn)
            state = fold(history)
            if precheck is not None:
                await precheck(conn, state)
            new = decide(state)
            if not new:
                return state, []
            stored = await self._append_and_project(conn, stream_id, len(history), new, metadata)
            return fold(history + stored), stored

    async def _append_and_project(self, conn, stream_id, expected, new, metadata,
                                  event_ids=None) -> list[StoredEvent]:
        try:
            to_append = [e.to_new(metadata, event_id=(event_ids[i] if event_ids else None))
                         for i, e in enumerate(new)]
            stored = await self.store.append(stream_id, expected, to_append, conn=conn)
            for ev in stored:
                await projections.apply(conn, ev)
        except asyncpg.UniqueViolationError as exc:
            if "name_key" in (exc.constraint_name or ""):
                raise AlreadyExists("name is already taken", field="name") from exc
            raise
        return stored

    async def record_facts(self, stream_id: str, events: list[DomainEvent], event_ids: list,
                           metadata: EventMetadata) -> list[StoredEvent]:
        """Ingest facts reported by workers (results, completions); a fact that cannot be
        stored never takes the others with it.

        A batch the database refuses for its values (:func:`harness.storable.is_unstorable`)
        is recorded one fact at a time; a fact refused alone is replaced by its
        ``unstorable(reason)`` stand-in when it has one (a case result becomes that
        result's error, under the same event id), else the error is raised."""
        try:
            return await self._record_facts(stream_id, events, event_ids, metadata)
        except Exception as exc:
            if not is_unstorable(exc):
                raise
            if len(events) > 1:
                stored: list[StoredEvent] = []
                for event, event_id in zip(events, event_ids, strict=True):
                    stored += await self.record_facts(stream_id, [event], [event_id], metadata)
                return stored
            stand_in = getattr(events[0], "unstorable", None)
            if stand_in is None:
                raise
            reason = f"{type(exc).__name__}: {exc}"[:500]
            log.error("fact_unstorable", stream_id=stream_id, type=type(events[0]).__name__,
                      error=reason)
            return await self._record_facts(stream_id, [stand_in(reason)], event_ids, metadata)

    async def _record_facts(self, stream_id: str, events: list[DomainEvent], event_ids: list,
                            metadata: EventMetadata) -> list[StoredEvent]:
        """One transaction: no decision to make, deterministic event ids make a
        redelivery a no-op, any stream version is fine.

        A fact some registry reaction answers (``reactions.py``: generated cases join
        their dataset) gets its follow-up events in the same transaction; the streams
        those go to, and the fact's own stream (whose commands, e.g. a cancellation, must
        not race a fact), are locked first, before the append takes the store's own lock,
        in the order every command takes them."""
        touched = [stream_id]
        async with self._locked([stream_id, *reactions.streams_to_lock(events)]) as conn:
            stored = await self._append_and_project(conn, stream_id, None, events, metadata,
                                                    event_ids=event_ids)
            for ev in list(stored):
                for follow in await reactions.react(conn, ev):
                    more = await self._append_and_project(
                        conn, follow.stream_id, None, follow.events,
                        metadata.model_copy(update={"causation_id": str(ev.event_id)}),
                        event_ids=follow.event_ids)
                    if more:
                        touched.append(follow.stream_id)
        if stored:
            for stream in dict.fromkeys(touched):
                for hook in self.on_commit:
                    hook(stream)
        return stored

    # ---- generations ------------------------------------------------------------------

    async def generation(self, generation_id: str, command: generation_domain.Command,
                         metadata: EventMetadata) -> list[StoredEvent]:
        from harness.events import registry

        def fold(events: list[StoredEvent]) -> generation_domain.GenerationState:
            state = generation_domain.GenerationState()
            for ev in events:
                state = generation_domain.evolve(state, registry.decode(ev))
            return state

        _, stored = await self._execute(
            generation_stream(generation_id), fold,
            lambda state: generation_domain.decide(command, state), metadata)
        return stored

    # ---- datasets ---------------------------------------------------------------------

    async def dataset(self, dataset_id: str, command, metadata: EventMetadata,
                      ) -> list[StoredEvent]:
        case_id = getattr(command, "case_id", None)
        case_ids = list(getattr(command, "case_ids", None) or [])

        async def load(conn: asyncpg.Connection) -> dataset_domain.DatasetState:
            row = await conn.fetchrow(
                "SELECT id, name, dataset_type, is_verified, case_count FROM datasets "
                "WHERE id = $1", dataset_id)
            if row is None:
                return dataset_domain.DatasetState()
            exists = bool(case_id) and bool(await conn.fetchval(
                "SELECT 1 FROM test_cases WHERE id = $1 AND dataset_id = $2", case_id,
                dataset_id))
            cases = {}
            if case_ids:
                cases = {r["id"]: r["review_status"] for r in await conn.fetch(
                    "SELECT id, review_status FROM test_cases WHERE dataset_id = $1 "
                    "AND id = ANY($2::text[])", dataset_id, case_ids)}
            return dataset_domain.DatasetState(
                dataset_id=row["id"], name=row["name"], dataset_type=row["dataset_type"],
                is_verified=row["is_verified"], case_count=row["case_count"],
                case_exists=exists, cases=cases)

        _, stored = await self._execute(
            dataset_stream(dataset_id), lambda _h: None,
            lambda state: dataset_domain.decide(command, state), metadata, load=load)
        return stored

    # ---- prompts ----------------------------------------------------------------------

    async def prompt(
        self, prompt_id: str, command: prompt_domain.Command, metadata: EventMetadata
    ) -> tuple[prompt_domain.PromptState, list[StoredEvent]]:
        moves = (isinstance(command, prompt_domain.ActivateVersion)
                 or (isinstance(command, prompt_domain.CreateVersion) and command.activate))

        async def precheck(conn: asyncpg.Connection, state) -> None:
            # a direct activation of a governed production is refused (approval / gate)
            if not moves or not state.exists:
                return
            version = (command.version if isinstance(command, prompt_domain.ActivateVersion)
                       else state.latest_version + 1)
            if version == state.active_version:
                return
            ctx = await self._governance_context(conn, state, metadata, version,
                                                 prompt_domain.PRODUCTION)
            governance.check_direct_move(state, prompt_domain.PRODUCTION, ctx)

        return await self._execute(
            prompt_stream(prompt_id), fold_prompt,
            lambda state: prompt_domain.decide(command, state), metadata, precheck=precheck,
        )

    # ---- governance -------------------------------------------------------------------

    async def effective_policy(self, conn, state) -> dict | None:
        if state.policy:
            return state.policy
        return await conn.fetchval("SELECT policy FROM prompt_policies WHERE scope = '*'")

    async def _governance_context(self, conn, state, metadata: EventMetadata,
                                  version: int | None, environment: str | None,
                                  gate_run_id: str | None = None) -> governance.Context:
        from datetime import UTC, datetime

        from .gate import gate_evidence

        policy = await self.effective_policy(conn, state)
        evidence = None
        if (version is not None and environment is not None and policy
                and policy.get("gate") and governance.governs(policy, environment)):
            evidence = await gate_evidence(
                conn, prompt_id=state.prompt_id, version=version,
                incumbent=prompt_domain.pointer(state, environment), gate=policy["gate"],
                run_id=gate_run_id)
        return governance.Context(policy=policy, now=datetime.now(UTC), actor=metadata.actor,
                                  gate=evidence)

    async def govern(self, prompt_id: str, command, metadata: EventMetadata
                     ) -> tuple[prompt_domain.PromptState, list[StoredEvent]]:
        """Environments, policies and promotions: decided on the prompt's stream, with the
        effective policy and the gate's evidence looked up under the stream's lock."""
        found: dict[str, governance.Context] = {}

        async def precheck(conn: asyncpg.Connection, state) -> None:
            if not state.exists:
                from .domain.errors import NotFound

                raise NotFound(f"prompt {prompt_id} not found")
            version = environment = gate_run = None
            if isinstance(command, governance.MoveEnvironment | governance.Propose):
                version, environment = command.version, command.environment
                gate_run = getattr(command, "gate_run_id", None)
            elif isinstance(command, governance.Approve | governance.ApplyIfReady
                            | governance.Reject):
                p = state.promotions.get(command.promotion_id)
                if p is not None:
                    version, environment, gate_run = p.version, p.environment, p.gate_run_id
            found["ctx"] = await self._governance_context(conn, state, metadata, version,
                                                          environment, gate_run)

        return await self._execute(
            prompt_stream(prompt_id), fold_prompt,
            lambda state: governance.decide(command, state, found["ctx"]), metadata,
            precheck=precheck)

    async def set_global_policy(self, policy: dict, metadata: EventMetadata) -> dict:
        from harness.events.registry_events import PromptPolicySet

        valid = governance.validate_policy(policy)
        await self.record_facts("policy-global", [PromptPolicySet(prompt_id=None, policy=valid)],
                                [None], metadata)
        return valid

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
