"""/datasets: golden and evaluation datasets, their cases, import, verification, export."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from harness.datasets.parsing import ImportRejected, detect_format, parse_upload
from harness.web.auth import require
from harness.web.input_guard import find_unstorable
from harness.web.openapi_errors import media_types
from harness.web.problems import ProblemError

from ..domain import datasets as domain
from ..downloads import RAW_HELP, content_disposition
from ..handlers import datasets as handlers
from ..read.queries import datasets as queries
from ..schemas import (
    CaseOut,
    CasePatch,
    CasesIn,
    DatasetCreate,
    DatasetOut,
    DatasetPatch,
    ImportForm,
    ImportOut,
    Page,
    VerifyBody,
)
from .deps import Paging, metadata, runtime

router = APIRouter(prefix="/datasets", tags=["datasets"])

@router.get("", response_model=Page[DatasetOut])
async def list_datasets(q: str | None = Query(None), dataset_type: str | None = Query(None),
                        paging=Paging, rt=Depends(runtime), _=Depends(require("viewer"))):
    return await queries.list_datasets(rt.pool, q, dataset_type, paging.limit, paging.offset)


@router.post("", response_model=DatasetOut, status_code=201)
async def create_dataset(body: DatasetCreate, request: Request, rt=Depends(runtime),
                         _=Depends(require("editor"))):
    dataset_id = str(uuid.uuid4())
    await handlers.create(rt, domain.CreateDataset(
        dataset_id=dataset_id, name=body.name, description=body.description,
        dataset_type=body.dataset_type, default_assert=body.default_assert,
        default_metrics=body.default_metrics), metadata(request))
    return await queries.get_dataset(rt.pool, dataset_id)


@router.get("/{dataset_id}", response_model=DatasetOut)
async def get_dataset(dataset_id: str, rt=Depends(runtime), _=Depends(require("viewer"))):
    return await queries.get_dataset(rt.pool, dataset_id)


@router.patch("/{dataset_id}", response_model=DatasetOut)
async def update_dataset(dataset_id: str, body: DatasetPatch, request: Request,
                         rt=Depends(runtime), _=Depends(require("editor"))):
    await handlers.update(rt, dataset_id, domain.UpdateDataset(body.model_dump(exclude_unset=True)),
                          metadata(request))
    return await queries.get_dataset(rt.pool, dataset_id)


@router.get("/{dataset_id}/cases", response_model=Page[CaseOut])
async def list_cases(dataset_id: str, paging=Paging, rt=Depends(runtime),
                     _=Depends(require("viewer"))):
    return await queries.list_cases(rt.pool, dataset_id, paging.limit, paging.offset)


@router.post("/{dataset_id}/cases", response_model=Page[CaseOut], status_code=201)
async def add_cases(dataset_id: str, body: CasesIn, request: Request, rt=Depends(runtime),
                    _=Depends(require("editor"))):
    cases = [{"id": str(uuid.uuid4()), "input": c.input, "expected_output": c.expected_output,
              "metadata": c.metadata, "assert": c.assert_, "threshold": c.threshold}
             for c in body.cases]
    await handlers.add_cases(rt, dataset_id, domain.AddCases(cases), metadata(request))
    added = await queries.cases_by_id(rt.pool, [c["id"] for c in cases])
    return Page(items=added, total=len(added), limit=len(added), offset=0)


@router.patch("/{dataset_id}/cases/{case_id}", response_model=CaseOut)
async def update_case(dataset_id: str, case_id: str, body: CasePatch, request: Request,
                      rt=Depends(runtime), _=Depends(require("editor"))):
    changes = body.model_dump(exclude_unset=True, by_alias=True)
    await handlers.update_case(rt, dataset_id, domain.UpdateCase(case_id, changes),
                               metadata(request))
    return await queries.get_case(rt.pool, case_id)


@router.delete("/{dataset_id}/cases/{case_id}", status_code=204)
async def remove_case(dataset_id: str, case_id: str, request: Request, rt=Depends(runtime),
                      _=Depends(require("editor"))):
    await handlers.handle(rt, dataset_id, domain.RemoveCase(case_id), metadata(request))


@router.post("/{dataset_id}/import", response_model=ImportOut, status_code=201)
async def import_cases(dataset_id: str, request: Request, form: Annotated[ImportForm, Form()],
                       rt=Depends(runtime), _=Depends(require("editor"))):
    """All or nothing: a bad row answers 422 listing rows and reasons, and adds nothing.
    CSV follows promptfoo's conventions (columns are variables; ``__expected`` columns
    are assertions; ``__description``, ``__metric``, ``__threshold``)."""
    await queries.get_dataset(rt.pool, dataset_id)
    file = form.file
    filename = file.filename or "upload"
    try:
        fmt = detect_format(filename, file.content_type)
    except ValueError as exc:
        raise ProblemError(415, "unsupported-file", str(exc)) from exc
    try:
        parsed = await run_in_threadpool(parse_upload, file.file, fmt, filename)
    except ImportRejected as exc:
        raise ProblemError(422, "import-rejected", str(exc), file=filename,
                           errors=[e.as_dict() for e in exc.errors],
                           total_errors=exc.total_errors) from exc
    cases = [p.as_case(str(uuid.uuid4())) for p in parsed]
    bad = find_unstorable([{k: v for k, v in c.items() if k != "id"} for c in cases])
    if bad is not None:
        case, _, where = bad.field.partition(".")
        raise ProblemError(422, "import-rejected", f"case {int(case) + 1}: {where}: "
                           f"{bad.message}", file=filename, field=where)
    await handlers.handle(rt, dataset_id, domain.AddCases(cases, source=f"import:{filename}"),
                          metadata(request))
    ds = await queries.get_dataset(rt.pool, dataset_id)
    return ImportOut(dataset_id=dataset_id, imported=len(cases), case_count=ds.case_count,
                     format=fmt)


@router.post("/{dataset_id}/verify", response_model=DatasetOut)
async def verify_dataset(dataset_id: str, request: Request, body: VerifyBody | None = None,
                         rt=Depends(runtime), _=Depends(require("editor"))):
    """Mark the cases as reviewed by a person (the caller). Any later change clears it."""
    note = (body or VerifyBody()).note
    await handlers.handle(rt, dataset_id, domain.VerifyDataset(note), metadata(request))
    return await queries.get_dataset(rt.pool, dataset_id)


@router.get("/{dataset_id}/export",
            **media_types("application/x-ndjson", "text/csv", description="the cases"))
async def export_dataset(dataset_id: str, format: str = Query("jsonl", pattern="^(csv|jsonl)$"),
                         raw: bool = Query(False, description=RAW_HELP),
                         rt=Depends(runtime), _=Depends(require("viewer"))):
    """The cases as JSONL or CSV. CSV cells a spreadsheet would run as a formula get a
    leading ``'`` (the import removes it again) unless ``raw=true``."""
    ds = await queries.get_dataset(rt.pool, dataset_id)
    if format == "jsonl":
        return StreamingResponse(
            queries.cases_jsonl(rt.pool, dataset_id), media_type="application/x-ndjson",
            headers={"Content-Disposition": content_disposition(f"{ds.name}.jsonl")})
    lines = await queries.cases_csv(rt.pool, dataset_id, raw)
    return StreamingResponse(lines, media_type="text/csv", headers={
        "Content-Disposition": content_disposition(f"{ds.name}.csv")})
