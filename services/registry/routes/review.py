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
from ..domain.checks import check_assertions
from ..domain.errors import Invalid, NotFound
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
    decisions = []
    for i, d in enumerate(body.decisions):
        changes = d.changes.model_dump(exclude_unset=True, by_alias=True) if d.changes else {}
        if changes.get("assert") is not None:
            check_assertions(changes["assert"], f"decisions.{i}.changes.assert")
        decisions.append(domain.ReviewDecision(case_id=d.case_id, decision=d.decision,
                                               changes=changes, note=d.note))
    await handlers.handle(rt, dataset_id, domain.ReviewCases(tuple(decisions)),
                              metadata(request))
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
    await get_dataset(rt.pool, dataset_id)
    try:
        await get_dataset(rt.pool, body.source_dataset_id)
    except NotFound as exc:
        raise Invalid(f"source_dataset_id: dataset {body.source_dataset_id} not found",
                      field="source_dataset_id") from exc
    wanted = list(dict.fromkeys(body.case_ids))
    rows = await queries.cases_with_review(rt.pool, body.source_dataset_id, wanted)
    missing = [c for c in wanted if c not in rows]
    if missing:
        raise Invalid(f"case_ids: {len(missing)} case(s) not in the source dataset, e.g. "
                      f"{missing[0]}", field="case_ids", case_ids=missing[:100])
    pending = [c for c in wanted if rows[c]["review_status"] == "pending"]
    if pending:
        raise Invalid(f"case_ids: {len(pending)} generated case(s) not reviewed yet, e.g. "
                      f"{pending[0]}: accept them first (POST /datasets/"
                      f"{body.source_dataset_id}/review)", field="case_ids",
                      case_ids=pending[:100])
    copies = []
    for c in wanted:
        copies.append(domain.promoted_copy(dataset_id, body.source_dataset_id, rows[c]))
    stored = await handlers.handle(
        rt, dataset_id, domain.PromoteCases(body.source_dataset_id, tuple(copies)),
        metadata(request))
    added = {c["id"] for ev in stored for c in ev.data.get("cases", [])}
    return PromoteOut(
        dataset=await get_dataset(rt.pool, dataset_id),
        promoted=[c["id"] for c in copies if c["id"] in added],
        already_present=[src for src, c in zip(wanted, copies, strict=True)
                         if c["id"] not in added])
