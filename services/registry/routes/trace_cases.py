"""``POST /datasets/{id}/cases/from-traces``: stored traces become test cases.

Give ``trace_ids`` or a ``filter`` (the filters of ``GET /traces``; its newest ``limit``
traces are taken, and ``truncated`` says when more matched). An ``app/<name>`` gateway call
becomes a case whose input is the variables its prompt was rendered with; any other call a
case whose input is ``{"messages": [...]}``; with ``answer_as_expected`` the answer is the
case's ``expected_output``. Content is only ever the masked form. The trace is kept on the
case (``metadata.from_trace.trace_id``); a trace already in the dataset is refused with a
409 naming it (``trace_ids``), or skipped and reported with ``skip_duplicates``. All or
nothing: a trace that cannot become a case is a 422 naming it and adds nothing.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from harness.web.auth import require
from harness.web.bodies import RequestBody

from ..domain.trace_cases import MAX_TRACES
from ..handlers.datasets import add_cases_from_traces
from ..read.queries import datasets as dataset_queries
from ..schemas import CaseOut, TraceFilterIn
from .deps import metadata, runtime

router = APIRouter(prefix="/datasets", tags=["datasets"])


class CasesFromTracesIn(RequestBody):
    trace_ids: list[uuid.UUID] | None = Field(None, min_length=1, max_length=MAX_TRACES)
    filter: TraceFilterIn | None = None
    limit: int = Field(100, ge=1, le=MAX_TRACES,
                       description="with a filter: at most this many traces, the newest")
    answer_as_expected: bool = Field(False, description="the answer becomes expected_output")
    skip_duplicates: bool = Field(False, description="skip traces already in the dataset "
                                                     "(reported) instead of a 409")


class CasesFromTracesOut(BaseModel):
    dataset_id: str
    items: list[CaseOut]             # the cases added
    added: int
    skipped_trace_ids: list[str]     # already in the dataset (skip_duplicates)
    selected: int                    # traces taken
    limit: int | None                # with a filter: the cap
    truncated: bool                  # with a filter: more traces matched than the cap


@router.post("/{dataset_id}/cases/from-traces", response_model=CasesFromTracesOut,
             status_code=201)
async def cases_from_traces(dataset_id: str, body: CasesFromTracesIn, request: Request,
                            rt=Depends(runtime), _=Depends(require("editor"))):
    """Traces become cases of this dataset (see the module's description)."""
    done = await add_cases_from_traces(
        rt, dataset_id, metadata(request), trace_ids=body.trace_ids,
        trace_filter=body.filter.to_filter() if body.filter else None, limit=body.limit,
        answer_as_expected=body.answer_as_expected, skip_duplicates=body.skip_duplicates)
    items = await dataset_queries.cases_by_id(rt.pool, done.added)
    return CasesFromTracesOut(
        dataset_id=dataset_id, items=items, added=len(items),
        skipped_trace_ids=done.skipped_trace_ids, selected=done.selected,
        limit=body.limit if body.filter else None, truncated=done.truncated)
