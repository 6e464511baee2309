"""/runs: request evaluation runs, follow them, read and compare their results."""

from __future__ import annotations

import csv
import io
import uuid

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response, StreamingResponse

from harness import csv_cells
from harness.assertions import parse_assertions
from harness.config import get_settings
from harness.datasets.preview import case_preview
from harness.datasets.snapshots import write_snapshot
from harness.evaluation import analysis
from harness.evaluation.models import CaseResult, Target
from harness.evaluation.providers import to_litellm_model
from harness.events.run_events import (
    CaseResultRecorded,
    RunCancelled,
    RunCompleted,
    RunRequested,
    result_event_id,
    run_event_id,
)
from harness.llm import options
from harness.llm.credentials import missing_credentials
from harness.web.auth import require
from harness.web.openapi_errors import media_types
from harness.web.problems import ProblemError

from ..commands import run_stream
from ..domain.errors import Invalid, NotFound
from ..downloads import RAW_HELP, content_disposition
from ..read.queries.datasets import get_dataset
from ..schemas import Page, RunCreate, RunImport, RunOut, ScoringOut, TargetSpec
from ..scores import RESULT_WITH_SCORES, canonical_metrics, metric_totals
from ..snapshots import dataset_snapshot
from .deps import Paging, metadata, runtime

router = APIRouter(tags=["runs"])

def check_llm_options(params: dict, field: str,
                      allowed: frozenset[str] = options.LLM_OPTIONS) -> None:
    """A 422 naming the first name in ``params`` that is not an allowed LLM option
    (``targets.0.params.api_base``): endpoints and credentials come from server
    configuration only (see ``harness.llm.options``)."""
    try:
        options.check_options(params, field, allowed)
    except options.OptionRefused as exc:
        raise Invalid(str(exc), field=exc.field) from exc


def missing_key(model: str, params: dict) -> list[str]:
    """What ``model`` lacks to be called from here: the runner merges the server's
    deployment (HARNESS_LLM_DEPLOYMENTS) over the target's params, so does this."""
    try:
        litellm_model = to_litellm_model(model)
    except ValueError:  # an unknown provider id: the runner reports it per case
        return []
    deployments = get_settings().llm_deployments
    deployment = deployments.get(litellm_model, deployments.get("*")) or {}
    return missing_credentials(litellm_model, {**params, **deployment})


def missing_credentials_problem(model: str, missing: list[str], field: str,
                                caller: str = "runs the targets") -> ProblemError:
    names = " or ".join(missing)
    return ProblemError(
        422, "missing-credentials",
        f"{field}: model {model!r} needs provider credentials: set {names} in the "
        f"environment of the process that {caller} (`harness up`), or choose another model",
        field=field, model=model, env_vars=missing)


def refuse_unconfigured(target: Target, where: str) -> None:
    """A 422 naming the model and the environment variable when no model of the target's
    chain has its provider's key here (this process runs the targets: the local stack)."""
    missing = [missing_key(m, target.params) for m in [target.model, *target.fallback_models]]
    if all(missing):
        raise missing_credentials_problem(target.model, missing[0], f"{where}.model")


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


async def _resolve_target(conn, spec: TargetSpec, index: int, models: list[str]) -> list[Target]:
    where = f"targets.{index}"
    if bool(spec.prompt_id) == bool(spec.application_id):
        raise Invalid(f"{where}: give exactly one of prompt_id or application_id", field=where)
    params: dict = {}
    fallback: list[str] = []
    app_label = None
    app_id = None
    prompt_id = spec.prompt_id
    model = spec.model
    if spec.application_id:
        app = await conn.fetchrow("SELECT * FROM applications WHERE id = $1", spec.application_id)
        if app is None:
            raise Invalid(f"{where}.application_id: application {spec.application_id} not found",
                          field=f"{where}.application_id")
        app_id, app_label, prompt_id = app["id"], app["name"], app["prompt_id"]
        params = {"temperature": app["temperature"], "max_tokens": app["max_tokens"]}
        if app["top_p"] is not None:
            params["top_p"] = app["top_p"]
        fallback = list(app["fallback_models"])
        model = model or app["model_id"]
    prompt = await conn.fetchrow("SELECT * FROM prompts WHERE id = $1", prompt_id)
    if prompt is None:
        raise Invalid(f"{where}.prompt_id: prompt {prompt_id} not found",
                      field=f"{where}.prompt_id")
    number = spec.version or prompt["active_version"]
    version = await conn.fetchrow(
        "SELECT version, content FROM prompt_versions WHERE prompt_id = $1 AND version = $2",
        prompt_id, number)
    if version is None:
        raise Invalid(f"{where}.version: prompt has no version {number}", field=f"{where}.version")
    check_llm_options(spec.params, f"{where}.params")
    params.update(spec.params)
    if spec.fallback_models is not None:
        fallback = spec.fallback_models
    chosen = [model] if model else models
    if not chosen:
        raise Invalid(f"{where}.model: no model (give model, use an application, or set models)",
                      field=f"{where}.model")
    base = app_label or f"{prompt['name']} v{number}"
    return [Target(target_id="", label=spec.label or f"{base} · {m}", prompt_id=prompt_id,
                   prompt_name=prompt["name"], prompt_version=number, application_id=app_id,
                   application_name=app_label, content=version["content"], model=m,
                   params=params, fallback_models=fallback)
            for m in chosen]


@router.post("/runs", response_model=RunOut, status_code=202)
async def create_run(body: RunCreate, request: Request, rt=Depends(runtime),
                     _=Depends(require("editor"))):
    """Pins prompt contents, params and a dataset snapshot, appends ``RunRequested`` and
    returns at once; the runner does the work."""
    run_id = await request_run(rt, body, metadata(request),
                               source=request.headers.get("x-harness-source", "api"))
    return run_out(await _run_row(rt, run_id))


async def request_run(rt, body: RunCreate, meta, *, source: str = "api") -> str:
    ds = await get_dataset(rt.pool, body.dataset_id)
    if ds.case_count == 0:
        raise Invalid("dataset_id: the dataset has no cases", field="dataset_id")
    if ds.dataset_type == "golden" and not ds.is_verified and body.min_pass_rate is not None:
        raise Invalid("min_pass_rate: a golden dataset must be verified by a person before it "
                      "can gate (POST /datasets/{id}/verify)", field="min_pass_rate")
    try:
        parse_assertions(body.assert_)
    except ValueError as exc:
        raise Invalid(f"assert: {exc}", field="assert") from exc
    targets: list[Target] = []
    async with rt.pool.acquire() as conn:
        for i, spec in enumerate(body.targets):
            resolved = await _resolve_target(conn, spec, i, body.models)
            if rt.calls_providers:
                for t in resolved:
                    refuse_unconfigured(t, f"targets.{i}")
            targets.extend(resolved)
        data, count = await dataset_snapshot(conn, body.dataset_id)
    for i, t in enumerate(targets):
        t.target_id = f"t{i}"
    metrics = canonical_metrics(
        body.metrics if body.metrics is not None else ds.default_metrics, "metrics")
    check_llm_options(body.judge_params, "judge_params",
                      options.JUDGE_OPTIONS)
    uri, sha = await write_snapshot(rt.artifacts, data)
    run_id = str(uuid.uuid4())
    event = RunRequested(
        run_id=run_id, dataset_id=body.dataset_id, dataset_name=ds.name, snapshot_uri=uri,
        snapshot_sha256=sha, case_count=count, targets=[t.model_dump() for t in targets],
        default_assert=[*ds.default_assert, *body.assert_], concurrency=body.concurrency,
        repeat=body.repeat, case_threshold=body.case_threshold, min_pass_rate=body.min_pass_rate,
        cache=body.cache, judge_model=body.judge_model, description=body.description,
        source=source, metrics=metrics, judge_params=body.judge_params,
        embedding_model=body.embedding_model)
    await rt.commands.record_facts(run_stream(run_id), [event], [None], meta)
    return run_id


@router.post("/runs/import", response_model=RunOut, status_code=201)
async def import_run(body: RunImport, request: Request, rt=Depends(runtime),
                     _=Depends(require("editor"))):
    """Record a run that was executed elsewhere (e.g. ``harness eval --record``): the
    dataset is snapshotted as for any run, results are validated against its cases and
    the targets, and the run is stored completed with its summary."""
    ds = await get_dataset(rt.pool, body.dataset_id)
    try:
        targets = [Target.model_validate(t) for t in body.targets]
        results = [CaseResult.model_validate(r) for r in body.results]
    except ValueError as exc:
        raise Invalid(f"targets/results: {exc}", field="results") from exc
    async with rt.pool.acquire() as conn:
        data, count = await dataset_snapshot(conn, body.dataset_id)
        case_ids = {r["id"] for r in await conn.fetch(
            "SELECT id FROM test_cases WHERE dataset_id = $1", body.dataset_id)}
    for i, t in enumerate(targets):
        check_llm_options(t.params, f"targets.{i}.params")
    target_ids = {t.target_id for t in targets}
    for i, r in enumerate(results):
        if r.case_id not in case_ids:
            raise Invalid(f"results.{i}.case_id: {r.case_id} is not a case of the dataset",
                          field=f"results.{i}.case_id")
        if r.target_id not in target_ids:
            raise Invalid(f"results.{i}.target_id: unknown target {r.target_id}",
                          field=f"results.{i}.target_id")
    uri, sha = await write_snapshot(rt.artifacts, data)
    run_id = str(uuid.uuid4())
    for r in results:
        r.run_id = run_id
    summary = analysis.summarize(results, targets)
    events = [RunRequested(
        run_id=run_id, dataset_id=body.dataset_id, dataset_name=ds.name, snapshot_uri=uri,
        snapshot_sha256=sha, case_count=count, targets=[t.model_dump() for t in targets],
        repeat=body.repeat, description=body.description, source=body.source)]
    ids = [None]
    for r in results:
        events.append(CaseResultRecorded(run_id=run_id, result=r.model_dump(mode="json")))
        ids.append(result_event_id(run_id, r.case_id, r.target_id, r.repeat))
    events.append(RunCompleted(run_id=run_id, summary=summary.model_dump(mode="json")))
    ids.append(run_event_id(run_id, "completed"))
    await rt.commands.record_facts(run_stream(run_id), events, ids, metadata(request))
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
    row = await _run_row(rt, run_id)
    if row["status"] not in ("queued", "running"):
        raise ProblemError(409, "run-finished", f"run {run_id} is already {row['status']}")
    reason = str((body or {}).get("reason", ""))
    await rt.commands.record_facts(run_stream(run_id), [RunCancelled(run_id=run_id,
                                                                     reason=reason)],
                                   [None], metadata(request))
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
