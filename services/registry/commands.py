"""Command handling: load an aggregate, decide, append and project in one transaction.

The handlers (``handlers/*.py``, one module per aggregate) say what to load and how to
decide; :meth:`CommandHandler.execute` runs that under the stream's lock. What a command
loads does not grow with the stream's history: an aggregate is either ``Snapshotted``
(a snapshot plus the events after it) or ``FromReadModel``; plain ``EventSourced`` is for
streams that stay short (or whose ``types`` do). Facts reported
by workers take :meth:`CommandHandler.record_facts` instead: nothing to decide.

Writers of one stream are serialised by a transaction-level advisory lock on the stream,
so concurrent commands never lose a write and never need a blind retry; the append still
carries the expected version as a second guard (a mismatch is a 409). Writers queue for a
stream in process before they take a connection, and for at most
``HARNESS_STREAM_LOCK_WAIT_S`` (``harness.eventstore.stream_locks``): a busy stream neither
takes the whole pool nor keeps a client waiting without bound (``StreamBusy``, a 503).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Generic, TypeVar

import asyncpg
import structlog
from pydantic import TypeAdapter, ValidationError

from harness import metrics
from harness.events import EventMetadata, StoredEvent, streams
from harness.events.base import DomainEvent
from harness.eventstore import (
    EventStore,
    Snapshot,
    StreamBusy,
    StreamLocks,
    load_snapshot,
    locked_transaction,
    save_snapshot,
)
from harness.eventstore.store import ConcurrencyError
from harness.storable import is_unstorable

from . import reactions
from .domain.errors import AlreadyExists, DomainError
from .read import projections

S = TypeVar("S")

log = structlog.get_logger(__name__)

React = Callable[[asyncpg.Connection, StoredEvent], Awaitable[list["reactions.FollowUp"]]]
"""Follow-up events a stored event calls for (``reactions.py``)."""

Decide = Callable[[asyncpg.Connection, S], Awaitable[list[DomainEvent]]]
"""A handler's decision on the loaded state: it may look more up on the connection (under
the stream's lock), then asks the pure domain."""


def pure(decide: Callable[[S], list[DomainEvent]]) -> Decide[S]:
    """A decision that needs nothing but the state."""

    async def decision(_conn: asyncpg.Connection, state: S) -> list[DomainEvent]:
        return decide(state)

    return decision


@dataclass(frozen=True)
class Loaded(Generic[S]):
    """An aggregate's state as loaded under the stream's lock, at stream ``version``;
    ``folded`` events were replayed to get it (all of the stream's without a snapshot)."""

    state: S
    version: int
    folded: int = 0


@dataclass(frozen=True)
class EventSourced(Generic[S]):
    """An aggregate whose state is its stream's events replayed (only those of ``types``
    when given: a run's lifecycle, not its thousands of results)."""

    initial: S
    replay: Callable[[Iterable[StoredEvent], S], S]
    types: Sequence[str] | None = None

    async def load(self, conn: asyncpg.Connection, store: EventStore, stream_id: str,
                   ) -> Loaded[S]:
        return await self.load_after(conn, store, stream_id, self.initial, 0)

    async def load_after(self, conn: asyncpg.Connection, store: EventStore, stream_id: str,
                         state: S, version: int) -> Loaded[S]:
        """``state`` (at stream ``version``) with the stream's later events replayed."""
        events = await store.read_stream(stream_id, types=self.types, after_version=version,
                                         conn=conn)
        if self.types is None:
            now = events[-1].stream_version if events else version
        else:
            now = await store.stream_version(stream_id, conn=conn)
        return Loaded(self.replay(events, state), now, len(events))

    def after(self, state: S, stored: list[StoredEvent]) -> S:
        return self.replay(stored, state)

    async def keep(self, conn: asyncpg.Connection, stream_id: str, loaded: Loaded[S],
                   state: S, stored: list[StoredEvent]) -> None:
        """Nothing is kept besides the events."""


@lru_cache
def _state_adapter(state_type: type) -> TypeAdapter:
    return TypeAdapter(state_type)


@dataclass(frozen=True)
class Snapshotted(Generic[S]):
    """An event-sourced aggregate that keeps a snapshot of its state (``snapshots``
    table, written in the appending transaction) once ``every`` events were replayed
    since the last one: a command reads the snapshot and the events after it, never the
    whole stream.

    ``schema_version`` names the shape and meaning of the state: bump it whenever the
    state's fields, its ``evolve`` or an upcaster of its events change. A snapshot of
    another version (or none, or one that no longer parses) is ignored, the stream is
    folded from the start and a new snapshot is written with that command."""

    name: str
    schema_version: int
    events: EventSourced[S]
    every: int = 20

    async def load(self, conn: asyncpg.Connection, store: EventStore, stream_id: str,
                   ) -> Loaded[S]:
        snap = await load_snapshot(conn, stream_id, self.name)
        if snap is not None and snap.schema_version == self.schema_version:
            try:
                state = self.decode(snap.state)
            except ValidationError:
                log.warning("snapshot_unreadable", stream_id=stream_id, aggregate=self.name)
            else:
                return await self.events.load_after(conn, store, stream_id, state,
                                                    snap.stream_version)
        return await self.events.load(conn, store, stream_id)

    def after(self, state: S, stored: list[StoredEvent]) -> S:
        return self.events.after(state, stored)

    async def keep(self, conn: asyncpg.Connection, stream_id: str, loaded: Loaded[S],
                   state: S, stored: list[StoredEvent]) -> None:
        """Snapshot ``state`` (after ``stored``) when enough events were replayed."""
        if stored and loaded.folded + len(stored) >= self.every:
            await save_snapshot(conn, stream_id, self.name, Snapshot(
                self.schema_version, stored[-1].stream_version, self.encode(state)))

    def encode(self, state: S) -> Any:
        return _state_adapter(type(self.events.initial)).dump_python(state, mode="json")

    def decode(self, data: Any) -> S:
        return _state_adapter(type(self.events.initial)).validate_python(data)


@dataclass(frozen=True)
class FromReadModel(Generic[S]):
    """An aggregate whose (small) state is read from its read model, which the stream's
    lock keeps in step with the stream (the projection runs in the appending transaction).
    The state returned is the one decided on."""

    query: Callable[[asyncpg.Connection], Awaitable[S]]

    async def load(self, conn: asyncpg.Connection, store: EventStore, stream_id: str,
                   ) -> Loaded[S]:
        version = await store.stream_version(stream_id, conn=conn)
        return Loaded(await self.query(conn), version)

    def after(self, state: S, stored: list[StoredEvent]) -> S:
        return state

    async def keep(self, conn: asyncpg.Connection, stream_id: str, loaded: Loaded[S],
                   state: S, stored: list[StoredEvent]) -> None:
        """The projections keep the read model."""


Aggregate = EventSourced[S] | Snapshotted[S] | FromReadModel[S]


def _outcome(exc: BaseException | None, stored: list | None) -> str:
    if exc is None:
        return "ok" if stored else "noop"
    if isinstance(exc, DomainError):
        return "rejected"
    if isinstance(exc, ConcurrencyError):
        return "conflict"
    if isinstance(exc, StreamBusy):
        return "busy"
    return "error"


class _Measured:
    """Counts a command by aggregate, kind and outcome and times it."""

    def __init__(self, stream_id: str, kind: str) -> None:
        self.labels = (streams.category(stream_id), kind)
        self.stored: list | None = None

    def __enter__(self) -> _Measured:
        self.timer = metrics.Timer().__enter__()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.timer.__exit__()
        metrics.registry_command_seconds.labels(*self.labels).observe(self.timer.seconds)
        metrics.registry_commands.labels(*self.labels, _outcome(exc, self.stored)).inc()


class CommandHandler:
    def __init__(self, store: EventStore) -> None:
        self.store = store
        self.stream_locks = StreamLocks()
        # called with the stream id after a command's transaction committed
        self.on_commit: list[Callable[[str], None]] = []

    async def execute(self, stream_id: str, aggregate: Aggregate[S], decide: Decide[S],
                      metadata: EventMetadata, *, also_lock: Sequence[str] = (),
                      react: React | None = None) -> tuple[S, list[StoredEvent]]:
        """Under the stream's lock: load the aggregate, decide, append what was decided
        and project it. Returns the state after the new events and the stored events.

        ``react`` answers each stored event with follow-up events on other streams, in the
        same transaction (a prompt's move tells the prompts that reference it); it may
        only append to ``also_lock``, the streams locked with this one."""
        touched = [stream_id]
        with _Measured(stream_id, "decide") as measured:
            async with self._locked([stream_id, *also_lock]) as conn:
                loaded = await aggregate.load(conn, self.store, stream_id)
                new = await decide(conn, loaded.state)
                if not new:
                    return loaded.state, []
                stored = measured.stored = await self._append_and_project(
                    conn, stream_id, loaded.version, new, metadata)
                state = aggregate.after(loaded.state, stored)
                await aggregate.keep(conn, stream_id, loaded, state, stored)
                if react is not None:
                    for ev in stored:
                        touched += await self._follow_up(conn, ev, await react(conn, ev),
                                                         metadata)
        for stream in dict.fromkeys(touched):
            for hook in self.on_commit:
                hook(stream)
        return state, stored

    def _locked(self, streams: list[str]):
        """A transaction holding the streams' locks, waited for within the bound."""
        from harness.config import get_settings

        return locked_transaction(self.store.pool, self.stream_locks, streams,
                                  get_settings().stream_lock_wait_s)

    async def _append_and_project(self, conn, stream_id, expected, new, metadata,
                                  event_ids=None) -> list[StoredEvent]:
        try:
            to_append = [e.to_new(metadata, event_id=(event_ids[i] if event_ids else None))
                         for i, e in enumerate(new)]
            with metrics.Timer() as appending:
                stored = await self.store.append(stream_id, expected, to_append, conn=conn)
            metrics.registry_append_seconds.observe(appending.seconds)
            for ev in stored:
                await projections.apply(conn, ev)
                metrics.registry_events_appended.labels(ev.type).inc()
                metrics.registry_projection_lag_seconds.observe(
                    metrics.seconds_since(ev.recorded_at))
                metrics.subscriptions.saw(ev.global_position)
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
            with _Measured(stream_id, "facts") as measured:
                measured.stored = await self._record_facts(stream_id, events, event_ids,
                                                           metadata)
            return measured.stored
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

    async def _follow_up(self, conn, cause: StoredEvent, follow_ups: list[reactions.FollowUp],
                         metadata: EventMetadata) -> list[str]:
        """Append and project reactions to ``cause``; the streams that got events."""
        touched = []
        for follow in follow_ups:
            more = await self._append_and_project(
                conn, follow.stream_id, None, follow.events,
                metadata.model_copy(update={"causation_id": str(cause.event_id)}),
                event_ids=follow.event_ids)
            if more:
                touched.append(follow.stream_id)
        return touched

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
                touched += await self._follow_up(conn, ev, await reactions.react(conn, ev),
                                                 metadata)
            if stored:  # a run's last item: the registry completes the run
                touched += await self._follow_up(
                    conn, stored[-1], await reactions.complete_runs(conn, stored), metadata)
        if stored:
            for stream in dict.fromkeys(touched):
                for hook in self.on_commit:
                    hook(stream)
        return stored
