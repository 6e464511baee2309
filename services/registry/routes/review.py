"""Review of generated cases, and promotion of reviewed cases into a golden dataset.

Generated cases arrive ``pending``. A person accepts them (optionally editing them in the
same decision) or rejects them (the case leaves the dataset; the decision stays in the
dataset's history, and the case as it was stays listed with ``status=rejected``).
Accepted cases — and cases a person wrote — can be promoted into a golden dataset: copies
with their provenance. A golden dataset changes only this way or by hand, and like every
change this clears its verification until someone verifies it.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from harness.web.auth import require
from harness.web.bodies import RequestBody

from ..domain import datasets as domain
from ..handlers import datasets as handlers
from ..read.queries import review as queries
from ..read.queries.datasets import get_dataset
from ..schemas import CasePatch, DatasetOut, Page, ReviewCaseOut
from .deps import Paging, metadata, runtime

router = APIRouter(prefix="/datasets", tags=["review"])


class Decision(RequestBody):
    case_id: str
    decision: Literal["accept", "reject"]
    changes: CasePatch | None = Field(default=None, description="edits made while accepting")
    note: str = Field(default="", max_length=2000)


class ReviewIn(RequestBody):
    decisions: list[Decision] = Field(min_length=1, max_length=1000)


class ReviewOut(BaseModel):
    dataset_id: str
    accepted: int
    rejected: int
    pending: int = Field(description="generated cases of the dataset still to review")


class PromoteIn(RequestBody):
    source_dataset_id: str
    case_ids: list[str] = Field(min_length=1, max_length=10_000)


class PromoteOut(BaseModel):
    dataset: DatasetOut
    promoted: list[str] = Field(description="ids of the new golden cases")
    already_present: list[str] = Field(description="source cases promoted before (skipped)")


@router.get("/{dataset_id}/review", response_model=Page[ReviewCaseOut])
async def review_queue(dataset_id: str,
                       status: Literal["pending", "accepted", "rejected", "all"] = Query(
                           "pending", description="rejected: cases turned down, as they "
                                                  "were, with the note and reviewer"),
                       generation_id: str | None = Query(None),
                       paging=Paging, rt=Depends(runtime), _=Depends(require("viewer"))):
    """The generated cases of the dataset (pending by default), oldest first."""
    return await queries.review_queue(rt.pool, dataset_id, status, generation_id,
                                      paging.limit, paging.offset)


@router.post("/{dataset_id}/review", response_model=ReviewOut)
async def review(dataset_id: str, body: ReviewIn, request: Request, rt=Depends(runtime),
                 _=Depends(require("editor"))):
    """Accept (optionally with ``changes``) or reject generated cases; all decisions of
    one request are recorded together or not at all."""
    decisions = [domain.ReviewDecision(
        case_id=d.case_id, decision=d.decision, note=d.note,
        changes=d.changes.model_dump(exclude_unset=True, by_alias=True) if d.changes else {})
        for d in body.decisions]
    await handlers.review(rt, dataset_id, domain.ReviewCases(tuple(decisions)), metadata(request))
    pending = await queries.pending_count(rt.pool, dataset_id)
    return ReviewOut(dataset_id=dataset_id,
                     accepted=sum(d.decision == "accept" for d in decisions),
                     rejected=sum(d.decision == "reject" for d in decisions), pending=pending)


@router.post("/{dataset_id}/promote", response_model=PromoteOut)
async def promote(dataset_id: str, body: PromoteIn, request: Request, rt=Depends(runtime),
                  _=Depends(require("editor"))):
    """Copy cases of ``source_dataset_id`` into this golden dataset. Generated cases must
    be accepted first; each copy keeps its content and records where it came from
    (``metadata.promoted_from``). Promoting a case again is skipped."""
    done = await handlers.promote(rt, dataset_id, body.source_dataset_id, body.case_ids,
                                  metadata(request))
    return PromoteOut(
        dataset=await get_dataset(rt.pool, dataset_id), promoted=done.promoted,
        already_present=done.already_present)
