"""Annotation queues (pure: no I/O): traces and run results waiting for people's scores.

A queue names the scores its reviewers give (score configs) and, optionally, who may
review (named reviewers; anyone with an editor key when none are named). Items are added
by reference; an item's id derives from the queue and what it points to, so adding one
twice is skipped and reported. Reviewers take the next pending item, score it and
complete it; the queue counts what is done.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from harness.events.base import DomainEvent
from harness.events.queue_events import QueueCreated, QueueItemCompleted, QueueItemsAdded

from .errors import AlreadyExists, DomainError, Invalid, NotFound

_ITEM_NS = uuid.UUID("8a3f6c1d-2b47-4e95-a0d8-6e1c9b7f2a54")
NAME = re.compile(r"^\S(.{0,98}\S)?$")
MAX_ITEMS = 1000
MAX_REVIEWERS = 100


class NotAReviewer(DomainError):
    """The caller is not one of the queue's named reviewers."""


def trace_item(queue_id: str, trace_id: str) -> dict[str, Any]:
    return {"item_id": str(uuid.uuid5(_ITEM_NS, f"{queue_id}:trace:{trace_id}")),
            "kind": "trace", "trace_id": str(trace_id)}


def result_item(queue_id: str, run_id: str, result_id: str) -> dict[str, Any]:
    return {"item_id": str(uuid.uuid5(_ITEM_NS, f"{queue_id}:result:{run_id}:{result_id}")),
            "kind": "result", "run_id": run_id, "result_id": str(result_id)}


@dataclass(frozen=True)
class CreateQueue:
    queue_id: str
    name: str
    score_names: tuple[str, ...]
    reviewers: tuple[str, ...] = ()
    description: str = ""


@dataclass(frozen=True)
class AddItems:
    items: tuple[dict[str, Any], ...]  # trace_item / result_item

    @property
    def item_ids(self) -> list[str]:
        return [i["item_id"] for i in self.items]


@dataclass(frozen=True)
class CompleteItem:
    item_id: str
    actor: str | None


@dataclass(frozen=True)
class QueueState:
    queue_id: str | None = None
    reviewers: tuple[str, ...] = ()
    known_configs: frozenset[str] = frozenset()  # for CreateQueue: score configs that exist
    items: dict[str, str] = field(default_factory=dict)  # asked-about item id -> status

    @property
    def exists(self) -> bool:
        return self.queue_id is not None


def may_review(state: QueueState, actor: str | None) -> bool:
    return not state.reviewers or actor in state.reviewers


def check_reviewer(state: QueueState, actor: str | None) -> None:
    if not may_review(state, actor):
        raise NotAReviewer(f"{actor or 'this caller'} is not a reviewer of this queue "
                           f"(reviewers: {', '.join(state.reviewers)})")


def _create(command: CreateQueue, state: QueueState) -> list[DomainEvent]:
    if state.exists:
        raise AlreadyExists(f"queue {command.queue_id} already exists")
    name = command.name.strip()
    if not NAME.match(name):
        raise Invalid("name: 1-100 characters, not blank", field="name")
    names = list(dict.fromkeys(command.score_names))
    if not names:
        raise Invalid("score_configs: name at least one score config reviewers give",
                      field="score_configs")
    for i, n in enumerate(names):
        if n not in state.known_configs:
            raise Invalid(f"score_configs.{i}: no score config named {n!r} (POST "
                          "/score-configs)", field=f"score_configs.{i}")
    reviewers = [r.strip() for r in command.reviewers]
    for i, r in enumerate(reviewers):
        if not r:
            raise Invalid(f"reviewers.{i}: must not be blank", field=f"reviewers.{i}")
    if len(reviewers) > MAX_REVIEWERS:
        raise Invalid(f"reviewers: at most {MAX_REVIEWERS}", field="reviewers")
    return [QueueCreated(queue_id=command.queue_id, name=name, description=command.description,
                         score_names=names, reviewers=list(dict.fromkeys(reviewers)))]


def decide(command, state: QueueState) -> list[DomainEvent]:
    if isinstance(command, CreateQueue):
        return _create(command, state)
    if not state.exists:
        raise NotFound("queue not found")
    assert state.queue_id is not None
    if isinstance(command, AddItems):
        if not command.items:
            raise Invalid("items: nothing to add", field="items")
        new = [i for i in dict((i["item_id"], i) for i in command.items).values()
               if i["item_id"] not in state.items]
        return [QueueItemsAdded(queue_id=state.queue_id, items=new)] if new else []
    if isinstance(command, CompleteItem):
        check_reviewer(state, command.actor)
        status = state.items.get(command.item_id)
        if status is None:
            raise NotFound(f"item {command.item_id} not found in this queue")
        if status == "done":
            return []  # completing twice changes nothing
        return [QueueItemCompleted(queue_id=state.queue_id, item_id=command.item_id)]
    raise TypeError(f"unknown command {command!r}")
