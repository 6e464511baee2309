"""Annotation queues: traces and run results waiting for people's scores.

``POST /queues`` names the score configs reviewers give and, optionally, the reviewers
(API key names; none named: any editor). ``POST /queues/{id}/items`` adds traces or run
results by id or by filter (at most ``limit`` by filter; ``truncated`` says when more
matched); an item already in the queue is skipped and counted. ``GET /queues/{id}/next``
gives the oldest pending item with what a reviewer needs to judge it; the reviewer scores
it (``POST /traces/{id}/scores``, ``POST /runs/{id}/results/{result_id}/scores``) and
completes it (``POST /queues/{id}/items/{item_id}/complete``), and the next one comes up.
``GET /queues/{id}`` shows the progress (done, pending, done by each reviewer).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from harness.web.auth import require
from harness.web.bodies import RequestBody

from ..domain import queues as domain
from ..handlers import queues as handlers
from ..read.queries import queues as queries
from ..schemas import TraceFilterIn
from .deps import metadata, runtime

router = APIRouter(prefix="/queues", tags=["queues"])


class QueueIn(RequestBody):
    name: str = Field(min_length=1, max_length=100)
    description: str = Field("", max_length=4000)
    score_configs: list[str] = Field(min_length=1, max_length=50,
                                     description="names of the score configs reviewers give")
    reviewers: list[str] = Field(default_factory=list, max_length=domain.MAX_REVIEWERS,
                                 description="API key names who may review (none: any "
                                             "editor)")


class QueueOut(BaseModel):
    id: str
    name: str
    description: str
    score_names: list[str]
    reviewers: list[str]
    item_count: int
    done_count: int
    pending: int
    progress: float
    done_by: dict[str, int] = {}
    created_at: datetime
    created_by: str | None


class ResultRef(RequestBody):
    run_id: str = Field(min_length=1)
    result_id: uuid.UUID


class RunResultsFilter(RequestBody):
    run_id: str = Field(min_length=1)
    status: Literal["pass", "fail", "error"] | None = None
    target_id: str | None = None


class QueueItemsIn(RequestBody):
    """One of the four ways to name items."""

    trace_ids: list[uuid.UUID] | None = Field(None, min_length=1, max_length=domain.MAX_ITEMS)
    trace_filter: TraceFilterIn | None = None
    results: list[ResultRef] | None = Field(None, min_length=1, max_length=domain.MAX_ITEMS)
    run_results: RunResultsFilter | None = None
    limit: int = Field(100, ge=1, le=domain.MAX_ITEMS,
                       description="with a filter: at most this many items")


class QueueItemsOut(BaseModel):
    queue_id: str
    added: int
    skipped: int = Field(description="already in the queue")
    selected: int
    truncated: bool = Field(description="a filter matched more than the limit")


class NextItemOut(BaseModel):
    queue: QueueOut
    item: dict[str, Any] = Field(description="item_id, kind and the trace (masked) or the "
                                             "result with its case and scores")


@router.post("", response_model=QueueOut, status_code=201)
async def create_queue(body: QueueIn, request: Request, rt=Depends(runtime),
                       _=Depends(require("editor"))):
    queue_id = str(uuid.uuid4())
    await handlers.create_queue(rt, domain.CreateQueue(
        queue_id=queue_id, name=body.name, description=body.description,
        score_names=tuple(body.score_configs), reviewers=tuple(body.reviewers)),
        metadata(request))
    return await queries.get_queue(rt.pool, queue_id)


@router.get("", response_model=list[QueueOut])
async def list_queues(rt=Depends(runtime), _=Depends(require("viewer"))):
    return await queries.list_queues(rt.pool)


@router.get("/{queue_id}", response_model=QueueOut)
async def get_queue(queue_id: str, rt=Depends(runtime), _=Depends(require("viewer"))):
    return await queries.get_queue(rt.pool, queue_id)


@router.post("/{queue_id}/items", response_model=QueueItemsOut, status_code=201)
async def add_items(queue_id: str, body: QueueItemsIn, request: Request, rt=Depends(runtime),
                    _=Depends(require("editor"))):
    rf = body.run_results
    done = await handlers.add_items(
        rt, queue_id, metadata(request), trace_ids=body.trace_ids,
        trace_filter=body.trace_filter.to_filter() if body.trace_filter else None,
        results=[(r.run_id, r.result_id) for r in body.results] if body.results else None,
        run_filter=(rf.run_id, rf.status, rf.target_id) if rf else None, limit=body.limit)
    return QueueItemsOut(queue_id=queue_id, added=done.added, skipped=done.skipped,
                         selected=done.selected, truncated=done.truncated)


@router.get("/{queue_id}/next", response_model=NextItemOut,
            responses={204: {"description": "every item is done"}})
async def next_item(queue_id: str, request: Request, rt=Depends(runtime),
                    _=Depends(require("editor"))):
    """The oldest pending item, for one of the queue's reviewers; 204 when all are done."""
    found = await queries.next_item(rt.pool, queue_id, metadata(request).actor)
    if found is None:
        return Response(status_code=204)
    return found


@router.post("/{queue_id}/items/{item_id}/complete", response_model=QueueOut)
async def complete_item(queue_id: str, item_id: str, request: Request, rt=Depends(runtime),
                        _=Depends(require("editor"))):
    """The reviewer is done with the item (completing it again changes nothing)."""
    await handlers.complete_item(rt, queue_id, item_id, metadata(request))
    return await queries.get_queue(rt.pool, queue_id)
