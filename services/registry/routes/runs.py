"""/runs: request evaluation runs, follow them, read and compare their results."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response, StreamingResponse

from harness.evaluation import analysis
from harness.tracing import context as tracing_context
from harness.web.auth import require
from harness.web.openapi_errors import media_types

from ..domain.errors import Invalid
from ..downloads import RAW_HELP, content_disposition
from ..handlers import runs as handlers
from ..read.queries import runs as queries
from ..schemas import Page, RunCreate, RunImport, RunOut
from .deps import Paging, metadata, runtime

router = APIRouter(tags=["runs"])


@router.post("/runs", response_model=RunOut, status_code=202)
async def create_run(body: RunCreate, request: Request, rt=Depends(runtime),
                     _=Depends(require("editor"))):
    """Pins prompt contents, params and a dataset snapshot, appends ``RunRequested`` and
    returns at once; the runner does the work."""
    run_id = await handlers.request_run(rt, body, metadata(request),
                                        source=request.headers.get("x-harness-source", "api"),
                                        trace_context=tracing_context.allocate(request.headers))
    return await queries.get_run(rt.pool, run_id)


@router.post("/runs/import", response_model=RunOut, status_code=201)
async def import_run(body: RunImport, request: Request, rt=Depends(runtime),
                     _=Depends(require("editor"))):
    """Record a run that was executed elsewhere (e.g. ``harness eval --record``): the
    dataset is snapshotted as for any run, results are validated against its cases and
    the targets, and the run is stored completed with its summary."""
    run_id = await handlers.import_run(rt, body, metadata(request))
    return await queries.get_run(rt.pool, run_id)


@router.get("/runs", response_model=Page[RunOut])
async def list_runs(dataset_id: str | None = None, status: str | None = None, paging=Paging,
                    rt=Depends(runtime), _=Depends(require("viewer"))):
    """Summaries: each target without its prompt content (``GET /runs/{id}`` has it)."""
    return await queries.list_runs(rt.pool, dataset_id, status, paging.limit, paging.offset)


@router.get("/runs/compare", response_model=analysis.Comparison)
async def compare(ids: str = Query(..., description="two run ids: before,after"),
                  pair: str | None = Query(None, description="target pairs, e.g. t0:t1,t1:t0"),
                  rt=Depends(runtime), _=Depends(require("viewer"))):
    """Per-case changes (regressed, fixed, ...) and per-target pass rate, score, latency,
    tokens and cost, with paired significance tests (McNemar, bootstrap)."""
    run_ids = [i for i in ids.split(",") if i]
    if len(run_ids) != 2:
        raise Invalid("ids: give exactly two run ids separated by a comma", field="ids")
    return await queries.compare(rt.pool, run_ids[0], run_ids[1], pair)


@router.get("/runs/{run_id}", response_model=RunOut)
async def get_run(run_id: str, rt=Depends(runtime), _=Depends(require("viewer"))):
    return await queries.get_run_with_scores(rt.pool, run_id)


@router.get("/runs/{run_id}/results")
async def run_results(run_id: str, status: str | None = Query(None, pattern="^(pass|fail|error)$"),
                      target_id: str | None = None,
                      shard: int | None = Query(None, ge=0, le=2**31 - 1,
                                                description="only this runner shard's results"),
                      paging=Paging, rt=Depends(runtime), _=Depends(require("viewer"))):
    return await queries.results_page(rt.pool, run_id, status, target_id, paging.limit,
                                      paging.offset, shard)


@router.get("/runs/{run_id}/recorded")
async def run_recorded(run_id: str, shard: int | None = Query(
                           None, ge=0, le=2**31 - 1,
                           description="only this shard's results (and any recorded "
                                       "without a shard)"),
                       rt=Depends(runtime), _=Depends(require("viewer"))):
    """What a (restarted) runner may skip: ``[case_id, target_id, repeat]`` per result."""
    return await queries.recorded(rt.pool, run_id, shard)


@router.get("/runs/{run_id}/summary", response_model=analysis.RunSummary)
async def run_summary(run_id: str, rt=Depends(runtime), _=Depends(require("viewer"))):
    return await queries.summary(rt.pool, run_id)


@router.get("/runs/{run_id}/pivot", response_model=analysis.Pivot)
async def run_pivot(run_id: str, rt=Depends(runtime), _=Depends(require("viewer"))):
    """Prompt version × model → pass rate, score, latency p95, cost."""
    return await queries.pivot(rt.pool, run_id)


@router.post("/runs/{run_id}/cancel", response_model=RunOut)
async def cancel_run(run_id: str, request: Request, body: dict | None = None,
                     rt=Depends(runtime), _=Depends(require("editor"))):
    reason = str((body or {}).get("reason", ""))
    await handlers.cancel_run(rt, run_id, reason, metadata(request))
    return await queries.get_run(rt.pool, run_id)


@router.get("/runs/{run_id}/export", **media_types("application/json", "text/csv",
                                                   description="the results"))
async def export_run(run_id: str, format: str = Query("json", pattern="^(csv|json)$"),
                     raw: bool = Query(False, description=RAW_HELP),
                     rt=Depends(runtime), _=Depends(require("viewer"))):
    """The results as JSON or CSV. CSV cells a spreadsheet would run as a formula (a
    model's answer may well be one) get a leading ``'`` unless ``raw=true``."""
    if format == "json":
        return Response(await queries.export_json(rt.pool, run_id),
                        media_type="application/json", headers={
                            "Content-Disposition": content_disposition(f"run-{run_id}.json")})
    return StreamingResponse(await queries.export_csv(rt.pool, run_id, raw),
                             media_type="text/csv", headers={
                                 "Content-Disposition": content_disposition(f"run-{run_id}.csv")})


@router.get("/prompts/{prompt_id}/trend", response_model=list[analysis.TrendPoint])
async def prompt_trend(prompt_id: str, rt=Depends(runtime), _=Depends(require("viewer"))):
    """Pass rate and score per version (and model) over time, one point per run target."""
    return await queries.prompt_trend(rt.pool, prompt_id)
