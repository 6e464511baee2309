"""/runs: request evaluation runs, follow them, read and compare their results."""

from __future__ import annotations

import csv
import io

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response, StreamingResponse

from harness import csv_cells
from harness.datasets.preview import case_preview
from harness.evaluation import analysis
from harness.evaluation.models import CaseResult, Target
from harness.llm import options
from harness.web.auth import require
from harness.web.openapi_errors import media_types
from harness.web.problems import ProblemError

from ..domain.errors import Invalid, NotFound
from ..downloads import RAW_HELP, content_disposition
from ..handlers import runs as handlers
from ..schemas import Page, RunCreate, RunImport, RunOut, ScoringOut
from ..scores import RESULT_WITH_SCORES, metric_totals
from .deps import Paging, metadata, runtime

router = APIRouter(tags=["runs"])

def run_out(row, by_metric: dict[str, analysis.MetricStats] | None = None, *,
            summary: bool = False) -> RunOut:
    """``summary`` (lists): the targets without their prompt content, which ``GET
    /runs/{id}`` carries."""
    d = dict(row)
    # runs recorded before the allowlist may hold credentials: never show their values
    d["targets"] = [{**{k: v for k, v in t.items() if not (summary and k == "content")},
                     "params": options.masked_options(t.get("params") or {})}
                    for t in d["targets"]]
    if d["config"].get("judge_params"):
        d["config"] = {**d["config"], "judge_params": options.masked_options(
            d["config"]["judge_params"], options.JUDGE_OPTIONS)}
    expected = d["expected_results"] or 0
    d["progress"] = round(d["recorded"] / expected, 4) if expected else 1.0
    scored, total = d.pop("scores_recorded"), d.pop("scores_expected")
    d["phase"] = "scoring" if d["status"] == "completed" and scored < total else d["status"]
    metrics = d["config"].get("metrics") or []
    if metrics:
        d["scoring"] = ScoringOut(
            metrics=metrics, scored=scored, total=total,
            progress=round(scored / total, 4) if total else 1.0,
            by_metric=by_metric)
    return RunOut(**d)


async def _run_row(rt, run_id: str):
    row = await rt.pool.fetchrow("SELECT * FROM runs WHERE id = $1", run_id)
    if row is None:
        raise NotFound(f"run {run_id} not found")
    return row


@router.post("/runs", response_model=RunOut, status_code=202)
async def create_run(body: RunCreate, request: Request, rt=Depends(runtime),
                     _=Depends(require("editor"))):
    """Pins prompt contents, params and a dataset snapshot, appends ``RunRequested`` and
    returns at once; the runner does the work."""
    run_id = await handlers.request_run(rt, body, metadata(request),
                                        source=request.headers.get("x-harness-source", "api"))
    return run_out(await _run_row(rt, run_id))


@router.post("/runs/import", response_model=RunOut, status_code=201)
async def import_run(body: RunImport, request: Request, rt=Depends(runtime),
                     _=Depends(require("editor"))):
    """Record a run that was executed elsewhere (e.g. ``harness eval --record``): the
    dataset is snapshotted as for any run, results are validated against its cases and
    the targets, and the run is stored completed with its summary."""
    run_id = await handlers.import_run(rt, body, metadata(request))
    return run_out(await _run_row(rt, run_id))


@router.get("/runs", response_model=Page[RunOut])
async def list_runs(dataset_id: str | None = None, status: str | None = None, paging=Paging,
                    rt=Depends(runtime), _=Depends(require("viewer"))):
    """Summaries: each target without its prompt content (``GET /runs/{id}`` has it)."""
    where = "($1::text IS NULL OR dataset_id = $1) AND ($2::text IS NULL OR status = $2)"
    total = await rt.pool.fetchval(f"SELECT count(*) FROM runs WHERE {where}", dataset_id, status)
    rows = await rt.pool.fetch(
        f"SELECT * FROM runs WHERE {where} ORDER BY requested_at DESC LIMIT $3 OFFSET $4",
        dataset_id, status, paging.limit, paging.offset)
    return Page(items=[run_out(r, summary=True) for r in rows], total=total,
                limit=paging.limit, offset=paging.offset)


async def load_results(rt, run_id: str) -> list[CaseResult]:
    """The run's results, each with its scores."""
    rows = await rt.pool.fetch(f"SELECT {RESULT_WITH_SCORES} AS result FROM run_results r "
                               "WHERE r.run_id = $1", run_id)
    return [CaseResult.model_validate(r["result"]) for r in rows]


def _targets(row) -> list[Target]:
    return [Target.model_validate({**t, "params": options.masked_options(t.get("params") or {})})
            for t in row["targets"]]


@router.get("/runs/compare", response_model=analysis.Comparison)
async def compare(ids: str = Query(..., description="two run ids: before,after"),
                  pair: str | None = Query(None, description="target pairs, e.g. t0:t1,t1:t0"),
                  rt=Depends(runtime), _=Depends(require("viewer"))):
    """Per-case changes (regressed, fixed, ...) and per-target pass rate, score, latency,
    tokens and cost, with paired significance tests (McNemar, bootstrap)."""
    run_ids = [i for i in ids.split(",") if i]
    if len(run_ids) != 2:
        raise Invalid("ids: give exactly two run ids separated by a comma", field="ids")
    before, after = [await _run_row(rt, i) for i in run_ids]
    if before["dataset_id"] != after["dataset_id"]:
        raise ProblemError(
            422, "runs-not-comparable",
            f"ids: the runs are on different datasets ({before['dataset_name']} and "
            f"{after['dataset_name']}); a case-by-case comparison needs two runs of one "
            "dataset", field="ids")
    pairs = None
    if pair:
        try:
            pairs = dict(p.split(":", 1) for p in pair.split(","))
        except ValueError as exc:
            raise Invalid("pair: use before:after target ids, e.g. t0:t1", field="pair") from exc
    elif len(before["targets"]) == 1 and len(after["targets"]) == 1:
        pairs = {"t0": "t0"}
    cfg = after["config"]
    comparison = analysis.compare_runs(
        await load_results(rt, run_ids[0]), await load_results(rt, run_ids[1]),
        before_targets=_targets(before), after_targets=_targets(after), pair_targets=pairs,
        case_threshold=cfg.get("case_threshold", 1.0))
    # people recognise a case by its text: a preview of each changed case's inputs
    rows = await rt.pool.fetch("SELECT id, input FROM test_cases WHERE id = ANY($1::text[])",
                               sorted({c.case_id for c in comparison.changes}))
    previews = {r["id"]: case_preview(r["input"]) for r in rows}
    for change in comparison.changes:
        change.case_preview = previews.get(change.case_id)
    return comparison


@router.get("/runs/{run_id}", response_model=RunOut)
async def get_run(run_id: str, rt=Depends(runtime), _=Depends(require("viewer"))):
    row = await _run_row(rt, run_id)
    return run_out(row, await metric_totals(rt.pool, run_id) if row["scores_expected"] else None)


@router.get("/runs/{run_id}/results")
async def run_results(run_id: str, status: str | None = Query(None, pattern="^(pass|fail|error)$"),
                      target_id: str | None = None, paging=Paging, rt=Depends(runtime),
                      _=Depends(require("viewer"))):
    await _run_row(rt, run_id)
    where = ("r.run_id = $1 AND ($2::text IS NULL OR r.status = $2) "
             "AND ($3::text IS NULL OR r.target_id = $3)")
    total = await rt.pool.fetchval(f"SELECT count(*) FROM run_results r WHERE {where}", run_id,
                                   status, target_id)
    rows = await rt.pool.fetch(
        f"SELECT {RESULT_WITH_SCORES} AS result, c.input AS case_input "
        f"FROM run_results r LEFT JOIN test_cases c ON c.id = r.case_id WHERE {where} "
        "ORDER BY r.case_id, r.target_id, r.repeat LIMIT $4 OFFSET $5", run_id, status,
        target_id, paging.limit, paging.offset)
    # people recognise a case by its text, not its id: a one-line preview of its inputs
    return {"items": [{**r["result"], "case_preview": case_preview(r["case_input"])}
                      for r in rows],
            "total": total, "limit": paging.limit, "offset": paging.offset}


@router.get("/runs/{run_id}/recorded")
async def run_recorded(run_id: str, rt=Depends(runtime), _=Depends(require("viewer"))):
    """What a (restarted) runner may skip: ``[case_id, target_id, repeat]`` per result."""
    row = await _run_row(rt, run_id)
    rows = await rt.pool.fetch(
        "SELECT case_id, target_id, repeat FROM run_results WHERE run_id = $1", run_id)
    return {"run_id": run_id, "status": row["status"],
            "recorded": [[r["case_id"], r["target_id"], r["repeat"]] for r in rows]}


@router.get("/runs/{run_id}/summary", response_model=analysis.RunSummary)
async def run_summary(run_id: str, rt=Depends(runtime), _=Depends(require("viewer"))):
    row = await _run_row(rt, run_id)
    cfg = row["config"]
    return analysis.summarize(await load_results(rt, run_id), _targets(row),
                              case_threshold=cfg.get("case_threshold", 1.0),
                              min_pass_rate=cfg.get("min_pass_rate"))


@router.get("/runs/{run_id}/pivot", response_model=analysis.Pivot)
async def run_pivot(run_id: str, rt=Depends(runtime), _=Depends(require("viewer"))):
    """Prompt version × model → pass rate, score, latency p95, cost."""
    row = await _run_row(rt, run_id)
    return analysis.pivot(await load_results(rt, run_id), _targets(row))


@router.post("/runs/{run_id}/cancel", response_model=RunOut)
async def cancel_run(run_id: str, request: Request, body: dict | None = None,
                     rt=Depends(runtime), _=Depends(require("editor"))):
    reason = str((body or {}).get("reason", ""))
    await handlers.cancel_run(rt, run_id, reason, metadata(request))
    return run_out(await _run_row(rt, run_id))


_EXPORT_COLUMNS = ("case_id", "target_id", "repeat", "status", "score", "reason", "output",
                   "latency_ms", "prompt_tokens", "completion_tokens", "total_tokens",
                   "cost_usd", "model", "error")


@router.get("/runs/{run_id}/export", **media_types("application/json", "text/csv",
                                                   description="the results"))
async def export_run(run_id: str, format: str = Query("json", pattern="^(csv|json)$"),
                     raw: bool = Query(False, description=RAW_HELP),
                     rt=Depends(runtime), _=Depends(require("viewer"))):
    """The results as JSON or CSV. CSV cells a spreadsheet would run as a formula (a
    model's answer may well be one) get a leading ``'`` unless ``raw=true``."""
    row = await _run_row(rt, run_id)
    results = await load_results(rt, run_id)
    results.sort(key=lambda r: (r.case_id, r.target_id, r.repeat))
    labels = {t["target_id"]: t["label"] for t in row["targets"]}
    if format == "json":
        body = {"run": run_out(row).model_dump(mode="json"),
                "results": [r.model_dump(mode="json") for r in results]}
        return Response(orjson.dumps(body), media_type="application/json", headers={
            "Content-Disposition": content_disposition(f"run-{run_id}.json")})

    cell = (lambda v: v) if raw else csv_cells.neutralise

    def lines():
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(["case_id", "target", *_EXPORT_COLUMNS[1:]])
        for r in results:
            d = r.model_dump()
            w.writerow([cell(c) for c in (
                r.case_id, labels.get(r.target_id, r.target_id),
                *["" if d[c] is None else d[c] for c in _EXPORT_COLUMNS[1:]])])
        yield buf.getvalue()
    return StreamingResponse(lines(), media_type="text/csv", headers={
        "Content-Disposition": content_disposition(f"run-{run_id}.csv")})


@router.get("/prompts/{prompt_id}/trend", response_model=list[analysis.TrendPoint])
async def prompt_trend(prompt_id: str, rt=Depends(runtime), _=Depends(require("viewer"))):
    """Pass rate and score per version (and model) over time, one point per run target."""
    if not await rt.pool.fetchval("SELECT 1 FROM prompts WHERE id = $1", prompt_id):
        raise NotFound(f"prompt {prompt_id} not found")
    runs = await rt.pool.fetch(
        "SELECT * FROM runs WHERE status = 'completed' AND targets @> $1 "
        "ORDER BY requested_at", [{"prompt_id": prompt_id}])
    by_run: dict[str, list[CaseResult]] = {r["id"]: [] for r in runs}
    for row in await rt.pool.fetch(  # one query for every run, not one per run
            f"SELECT r.run_id, {RESULT_WITH_SCORES} AS result FROM run_results r "
            "WHERE r.run_id = ANY($1)", list(by_run)):
        by_run[row["run_id"]].append(CaseResult.model_validate(row["result"]))
    data = [(r["id"], r["requested_at"], _targets(r), by_run[r["id"]]) for r in runs]
    return analysis.trend(data, prompt_id)
