"""Reads of the event log as the API shows it: pages from a position and a live follow,
with credentials masked in requests recorded before the LLM option allowlist."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

from harness.events import StoredEvent
from harness.eventstore import EventStore
from harness.eventstore.notifier import Notifier
from harness.llm import options

from ...schemas import EventOut, EventsPage

FOLLOW_BATCH = 500


def _masked(event_type: str, data: dict) -> dict:
    """Requests recorded before the LLM option allowlist may hold credentials: their
    values are never shown (``harness.llm.options.masked_options``)."""
    if event_type == "RunRequested":
        return {**data, "targets": [{**t, "params": options.masked_options(t.get("params") or {})}
                                    for t in data.get("targets") or []],
                "judge_params": options.masked_options(data.get("judge_params") or {},
                                                       options.JUDGE_OPTIONS)}
    if event_type == "GenerationRequested":
        return {**data, "params": options.masked_options(data.get("params") or {},
                                                         options.JUDGE_OPTIONS)}
    return data


def event_json(ev: StoredEvent) -> dict:
    """``ev`` as the API shows it (``EventOut``'s fields, JSON-ready)."""
    d = ev.model_dump(mode="json")
    d["data"] = _masked(ev.type, d["data"])
    d["metadata"] = ev.metadata.model_dump(mode="json", exclude_none=True)
    return d


async def events_page(store: EventStore, after: int, limit: int) -> EventsPage:
    events = await store.read_all(after, limit)
    return EventsPage(items=[EventOut(**event_json(e)) for e in events],
                      next_after=events[-1].global_position if events else after)


async def head_position(store: EventStore) -> int:
    """The position of the last stored event (where a follow from "now" starts)."""
    return await store.head_position()


async def follow(store: EventStore, notifier: Notifier, after: int,
                 stopped: Callable[[], Awaitable[bool]]) -> AsyncIterator[StoredEvent]:
    """Every event after ``after``, then each new one as it is appended, until ``stopped``
    (waits on the append notifications, at most 5 s between looks)."""
    position = after
    while not await stopped():
        batch = await store.read_all(position, FOLLOW_BATCH)
        for ev in batch:
            yield ev
            position = ev.global_position
        if len(batch) < FOLLOW_BATCH:
            await notifier.wait(timeout=5.0)
