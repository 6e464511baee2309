"""/datasets: golden and evaluation datasets, their cases, import, verification, export."""

from __future__ import annotations

import csv
import io
import json
import uuid

import orjson
from fastapi import APIRouter, Depends, File, Query, Request, UploadFile
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from harness import csv_cells
from harness.assertions import parse_assertions
from harness.datasets.parsing import ImportRejected, detect_format, parse_upload
from harness.web.auth import require
from harness.web.input_guard import find_unstorable
from harness.web.openapi_errors import media_types
from harness.web.problems import ProblemError

from ..domain import datasets as domain
from ..domain.errors import Invalid, NotFound
from ..downloads import RAW_HELP, content_disposition
from ..read.queries.search import contains_pattern
from ..schemas import (
    CaseOut,
    CasePatch,
    CasesIn,
    DatasetCreate,
    DatasetOut,
    DatasetPatch,
    ImportOut,
    Page,
)
from ..scores import canonical_metrics
from .deps import Paging, metadata, runtime

router = APIRouter(prefix="/datasets", tags=["datasets"])

_CASE_COLS = ("id, dataset_id, input, expected_output, metadata, assertions, threshold, "
              "created_at, updated_at")


def _case_out(row) -> CaseOut:
    d = dict(row)
    d["assert"] = d.pop("assertions")
    return CaseOut(**d)


async def dataset_row(rt, dataset_id: str):
    row = await rt.pool.fetchrow("SELECT * FROM datasets WHERE id = $1", dataset_id)
    if row is None:
        raise NotFound(f"dataset {dataset_id} not found")
    return row


def _check_assertions(raw: list[dict], field: str) -> None:
    try:
        parse_assertions(raw)
    except ValueError as exc:
        raise Invalid(f"{field}: {exc}", field=field) from exc


@router.get("", response_model=Page[DatasetOut])
async def list_datasets(q: str | None = Query(None), dataset_type: str | None = Query(None),
                        paging=Paging, rt=Depends(runtime), _=Depends(require("viewer"))):
    pattern = contains_pattern(q)
    where = "name ILIKE $1 ESCAPE '\\' AND ($2::text IS NULL OR dataset_type = $2)"
    total = await rt.pool.fetchval(f"SELECT count(*) FROM datasets WHERE {where}", pattern,
                                   dataset_type)
    rows = await rt.pool.fetch(
        f"SELECT * FROM datasets WHERE {where} ORDER BY name LIMIT $3 OFFSET $4",
        pattern, dataset_type, paging.limit, paging.offset)
    return Page(items=[DatasetOut(**dict(r)) for r in rows], total=total, limit=paging.limit,
                offset=paging.offset)


@router.post("", response_model=DatasetOut, status_code=201)
async def create_dataset(body: DatasetCreate, request: Request, rt=Depends(runtime),
                         _=Depends(require("editor"))):
    _check_assertions(body.default_assert, "default_assert")
    default_metrics = canonical_metrics(body.default_metrics, "default_metrics")
    dataset_id = str(uuid.uuid4())
    await rt.commands.dataset(dataset_id, domain.CreateDataset(
        dataset_id=dataset_id, name=body.name, description=body.description,
        dataset_type=body.dataset_type, default_assert=body.default_assert,
        default_metrics=default_metrics), metadata(request))
    return DatasetOut(**dict(await dataset_row(rt, dataset_id)))


@router.get("/{dataset_id}", response_model=DatasetOut)
async def get_dataset(dataset_id: str, rt=Depends(runtime), _=Depends(require("viewer"))):
    return DatasetOut(**dict(await dataset_row(rt, dataset_id)))


@router.patch("/{dataset_id}", response_model=DatasetOut)
async def update_dataset(dataset_id: str, body: DatasetPatch, request: Request,
                         rt=Depends(runtime), _=Depends(require("editor"))):
    changes = body.model_dump(exclude_unset=True)
    if changes.get("default_assert") is not None:
        _check_assertions(changes["default_assert"], "default_assert")
    if "default_metrics" in changes:
        changes["default_metrics"] = canonical_metrics(changes["default_metrics"] or [],
                                                       "default_metrics")
    await rt.commands.dataset(dataset_id, domain.UpdateDataset(changes), metadata(request))
    return DatasetOut(**dict(await dataset_row(rt, dataset_id)))


@router.get("/{dataset_id}/cases", response_model=Page[CaseOut])
async def list_cases(dataset_id: str, paging=Paging, rt=Depends(runtime),
                     _=Depends(require("viewer"))):
    ds = await dataset_row(rt, dataset_id)
    rows = await rt.pool.fetch(
        f"SELECT {_CASE_COLS} FROM test_cases WHERE dataset_id = $1 ORDER BY position "
        "LIMIT $2 OFFSET $3", dataset_id, paging.limit, paging.offset)
    return Page(items=[_case_out(r) for r in rows], total=ds["case_count"], limit=paging.limit,
                offset=paging.offset)


@router.post("/{dataset_id}/cases", response_model=Page[CaseOut], status_code=201)
async def add_cases(dataset_id: str, body: CasesIn, request: Request, rt=Depends(runtime),
                    _=Depends(require("editor"))):
    cases = []
    for i, c in enumerate(body.cases):
        _check_assertions(c.assert_, f"cases.{i}.assert")
        cases.append({"id": str(uuid.uuid4()), "input": c.input,
                      "expected_output": c.expected_output, "metadata": c.metadata,
                      "assert": c.assert_, "threshold": c.threshold})
    await rt.commands.dataset(dataset_id, domain.AddCases(cases), metadata(request))
    rows = await rt.pool.fetch(f"SELECT {_CASE_COLS} FROM test_cases WHERE id = ANY($1) "
                               "ORDER BY position", [c["id"] for c in cases])
    return Page(items=[_case_out(r) for r in rows], total=len(rows), limit=len(rows), offset=0)


@router.patch("/{dataset_id}/cases/{case_id}", response_model=CaseOut)
async def update_case(dataset_id: str, case_id: str, body: CasePatch, request: Request,
                      rt=Depends(runtime), _=Depends(require("editor"))):
    changes = body.model_dump(exclude_unset=True, by_alias=True)
    if changes.get("assert") is not None:
        _check_assertions(changes["assert"], "assert")
    await rt.commands.dataset(dataset_id, domain.UpdateCase(case_id, changes), metadata(request))
    row = await rt.pool.fetchrow(f"SELECT {_CASE_COLS} FROM test_cases WHERE id = $1", case_id)
    return _case_out(row)


@router.delete("/{dataset_id}/cases/{case_id}", status_code=204)
async def remove_case(dataset_id: str, case_id: str, request: Request, rt=Depends(runtime),
                      _=Depends(require("editor"))):
    await rt.commands.dataset(dataset_id, domain.RemoveCase(case_id), metadata(request))


@router.post("/{dataset_id}/import", response_model=ImportOut, status_code=201)
async def import_cases(dataset_id: str, request: Request,
                       file: UploadFile = File(..., description="CSV, JSON or JSONL"),
                       rt=Depends(runtime), _=Depends(require("editor"))):
    """All or nothing: a bad row answers 422 listing rows and reasons, and adds nothing.
    CSV follows promptfoo's conventions (columns are variables; ``__expected`` columns
    are assertions; ``__description``, ``__metric``, ``__threshold``)."""
    await dataset_row(rt, dataset_id)
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
    await rt.commands.dataset(dataset_id, domain.AddCases(cases, source=f"import:{filename}"),
                              metadata(request))
    ds = await dataset_row(rt, dataset_id)
    return ImportOut(dataset_id=dataset_id, imported=len(cases), case_count=ds["case_count"],
                     format=fmt)


@router.post("/{dataset_id}/verify", response_model=DatasetOut)
async def verify_dataset(dataset_id: str, request: Request, body: dict | None = None,
                         rt=Depends(runtime), _=Depends(require("editor"))):
    """Mark the cases as reviewed by a person (the caller). Any later change clears it."""
    note = str((body or {}).get("note", ""))
    await rt.commands.dataset(dataset_id, domain.VerifyDataset(note), metadata(request))
    return DatasetOut(**dict(await dataset_row(rt, dataset_id)))


@router.get("/{dataset_id}/export",
            **media_types("application/x-ndjson", "text/csv", description="the cases"))
async def export_dataset(dataset_id: str, format: str = Query("jsonl", pattern="^(csv|jsonl)$"),
                         raw: bool = Query(False, description=RAW_HELP),
                         rt=Depends(runtime), _=Depends(require("viewer"))):
    """The cases as JSONL or CSV. CSV cells a spreadsheet would run as a formula get a
    leading ``'`` (the import removes it again) unless ``raw=true``."""
    ds = await dataset_row(rt, dataset_id)

    async def rows():
        async with rt.pool.acquire() as conn, conn.transaction():
            async for r in conn.cursor(
                    f"SELECT {_CASE_COLS} FROM test_cases WHERE dataset_id = $1 "
                    "ORDER BY position", dataset_id, prefetch=1000):
                yield r

    if format == "jsonl":
        async def jsonl():
            async for r in rows():
                yield orjson.dumps({"id": r["id"], "input": r["input"],
                                    "expected_output": r["expected_output"],
                                    "metadata": r["metadata"], "assert": r["assertions"],
                                    "threshold": r["threshold"]}) + b"\n"
        return StreamingResponse(jsonl(), media_type="application/x-ndjson", headers={
            "Content-Disposition": content_disposition(f"{ds['name']}.jsonl")})

    var_names = await rt.pool.fetchval(
        "SELECT coalesce(array_agg(DISTINCT k ORDER BY k), '{}') FROM test_cases, "
        "jsonb_object_keys(input) AS k WHERE dataset_id = $1", dataset_id)

    cell = (lambda v: v) if raw else csv_cells.neutralise

    async def csv_lines():
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow([cell(c) for c in (*var_names, "expected_output", "__description",
                                           "__threshold", "__assert_json")])
        async for r in rows():
            inp = r["input"]
            values = [v if isinstance(v := inp.get(k, ""), str) else json.dumps(v)
                      for k in var_names]
            values += [r["expected_output"] or "", r["metadata"].get("description", ""),
                       "" if r["threshold"] is None else r["threshold"],
                       json.dumps(r["assertions"]) if r["assertions"] else ""]
            writer.writerow([cell(v) for v in values])
            if buf.tell() > 65536:
                yield buf.getvalue()
                buf.seek(0)
                buf.truncate()
        yield buf.getvalue()
    return StreamingResponse(csv_lines(), media_type="text/csv", headers={
        "Content-Disposition": content_disposition(f"{ds['name']}.csv")})
