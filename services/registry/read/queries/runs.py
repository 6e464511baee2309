"""Reads of runs and their results: a run with its progress, lists, results with their
scores, summaries, pivots, comparisons, exports and a prompt's trend.

Runs recorded before the LLM option allowlist may hold credentials in their targets' or
judge's params: every read masks their values (``harness.llm.options``)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import asyncpg
import orjson

from harness import csv_cells
from harness.datasets.preview import case_preview
from harness.evaluation import analysis
from harness.evaluation.models import CaseResult, Target
from harness.llm import options
from harness.web.problems import ProblemError

from ...domain.errors import Invalid, NotFound
from ...schemas import Page, RunOut, ScoringOut
from .scores import RESULT_WITH_SCORES, metric_totals


def _run_out(row, by_metric: dict[str, analysis.MetricStats] | None = None, *,
             summary: bool = False) -> RunOut:
    """``summary`` (lists): the targets without their prompt content, which ``GET
    /runs/{id}`` carries."""
    d = dict(row)
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


async def _run_row(pool: asyncpg.Pool, run_id: str):
    row = await pool.fetchrow("SELECT * FROM runs WHERE id = $1", run_id)
    if row is None:
        raise NotFound(f"run {run_id} not found")
    return row


def _targets(row) -> list[Target]:
    return [Target.model_validate({**t, "params": options.masked_options(t.get("params") or {})})
            for t in row["targets"]]


async def get_run(pool: asyncpg.Pool, run_id: str) -> RunOut:
    """The run and its progress (what a command answers)."""
    return _run_out(await _run_row(pool, run_id))


async def get_run_with_scores(pool: asyncpg.Pool, run_id: str) -> RunOut:
    """The run, with each metric's distribution so far when it is scored."""
    row = await _run_row(pool, run_id)
    return _run_out(row, await metric_totals(pool, run_id) if row["scores_expected"] else None)


async def list_runs(pool: asyncpg.Pool, dataset_id: str | None, status: str | None,
                    limit: int, offset: int) -> Page[RunOut]:
    """Newest first; each target without its prompt content."""
    where = "($1::text IS NULL OR dataset_id = $1) AND ($2::text IS NULL OR status = $2)"
    total = await pool.fetchval(f"SELECT count(*) FROM runs WHERE {where}", dataset_id, status)
    rows = await pool.fetch(
        f"SELECT * FROM runs WHERE {where} ORDER BY requested_at DESC LIMIT $3 OFFSET $4",
        dataset_id, status, limit, offset)
    return Page(items=[_run_out(r, summary=True) for r in rows], total=total, limit=limit,
                offset=offset)


async def load_results(pool: asyncpg.Pool, run_id: str) -> list[CaseResult]:
    """The run's results, each with its scores."""
    rows = await pool.fetch(f"SELECT {RESULT_WITH_SCORES} AS result FROM run_results r "
                            "WHERE r.run_id = $1", run_id)
    return [CaseResult.model_validate(r["result"]) for r in rows]


async def results_page(pool: asyncpg.Pool, run_id: str, status: str | None,
                       target_id: str | None, limit: int, offset: int,
                       shard: int | None = None) -> dict:
    """A page of results with their scores and a one-line preview of the case's inputs
    (people recognise a case by its text, not its id); ``shard``: only that runner
    shard's."""
    await _run_row(pool, run_id)
    where = ("r.run_id = $1 AND ($2::text IS NULL OR r.status = $2) "
             "AND ($3::text IS NULL OR r.target_id = $3) AND ($4::int IS NULL OR r.shard = $4)")
    total = await pool.fetchval(f"SELECT count(*) FROM run_results r WHERE {where}", run_id,
                                status, target_id, shard)
    rows = await pool.fetch(
        f"SELECT {RESULT_WITH_SCORES} AS result, c.input AS case_input "
        f"FROM run_results r LEFT JOIN test_cases c ON c.id = r.case_id WHERE {where} "
        "ORDER BY r.case_id, r.target_id, r.repeat LIMIT $5 OFFSET $6", run_id, status,
        target_id, shard, limit, offset)
    return {"items": [{**r["result"], "case_preview": case_preview(r["case_input"])}
                      for r in rows],
            "total": total, "limit": limit, "offset": offset}


async def recorded(pool: asyncpg.Pool, run_id: str, shard: int | None = None) -> dict:
    """What a (restarted) runner may skip: ``[case_id, target_id, repeat]`` per result;
    with ``shard``, that shard's (and any result recorded without a shard)."""
    row = await _run_row(pool, run_id)
    rows = await pool.fetch(
        "SELECT case_id, target_id, repeat FROM run_results WHERE run_id = $1 "
        "AND ($2::int IS NULL OR shard = $2 OR shard IS NULL)", run_id, shard)
    return {"run_id": run_id, "status": row["status"],
            "recorded": [[r["case_id"], r["target_id"], r["repeat"]] for r in rows]}


async def summary(pool: asyncpg.Pool, run_id: str) -> analysis.RunSummary:
    row = await _run_row(pool, run_id)
    cfg = row["config"]
    return analysis.summarize(await load_results(pool, run_id), _targets(row),
                              case_threshold=cfg.get("case_threshold", 1.0),
                              min_pass_rate=cfg.get("min_pass_rate"))


async def pivot(pool: asyncpg.Pool, run_id: str) -> analysis.Pivot:
    row = await _run_row(pool, run_id)
    return analysis.pivot(await load_results(pool, run_id), _targets(row))


async def compare(pool: asyncpg.Pool, before_id: str, after_id: str, pair: str | None
                  ) -> analysis.Comparison:
    """Two runs of one dataset case by case; ``pair``: ``before:after`` target ids, comma
    separated (default ``t0:t0`` when each run has one target)."""
    before, after = [await _run_row(pool, i) for i in (before_id, after_id)]
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
        await load_results(pool, before_id), await load_results(pool, after_id),
        before_targets=_targets(before), after_targets=_targets(after), pair_targets=pairs,
        case_threshold=cfg.get("case_threshold", 1.0))
    # people recognise a case by its text: a preview of each changed case's inputs
    rows = await pool.fetch("SELECT id, input FROM test_cases WHERE id = ANY($1::text[])",
                            sorted({c.case_id for c in comparison.changes}))
    previews = {r["id"]: case_preview(r["input"]) for r in rows}
    for change in comparison.changes:
        change.case_preview = previews.get(change.case_id)
    return comparison


_EXPORT_COLUMNS = ("case_id", "target_id", "repeat", "status", "score", "reason", "output",
                   "latency_ms", "prompt_tokens", "completion_tokens", "total_tokens",
                   "cost_usd", "model", "error")


async def _sorted_results(pool: asyncpg.Pool, run_id: str) -> list[CaseResult]:
    results = await load_results(pool, run_id)
    results.sort(key=lambda r: (r.case_id, r.target_id, r.repeat))
    return results


async def export_json(pool: asyncpg.Pool, run_id: str) -> bytes:
    """The run and its results as one JSON document."""
    row = await _run_row(pool, run_id)
    results = await _sorted_results(pool, run_id)
    return orjson.dumps({"run": _run_out(row).model_dump(mode="json"),
                         "results": [r.model_dump(mode="json") for r in results]})


async def export_csv(pool: asyncpg.Pool, run_id: str, raw: bool) -> Iterator[str]:
    """The results as CSV, a target by its label. Cells a spreadsheet would run as a
    formula (a model's answer may well be one) get a leading ``'`` unless ``raw``."""
    row = await _run_row(pool, run_id)
    results = await _sorted_results(pool, run_id)
    labels = {t["target_id"]: t["label"] for t in row["targets"]}
    cell = (lambda v: v) if raw else csv_cells.neutralise

    def lines() -> Iterator[str]:
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(["case_id", "target", *_EXPORT_COLUMNS[1:]])
        for r in results:
            d = r.model_dump()
            w.writerow([cell(c) for c in (
                r.case_id, labels.get(r.target_id, r.target_id),
                *["" if d[c] is None else d[c] for c in _EXPORT_COLUMNS[1:]])])
        yield buf.getvalue()

    return lines()


async def prompt_trend(pool: asyncpg.Pool, prompt_id: str) -> list[analysis.TrendPoint]:
    """Pass rate and score per version (and model) over time, one point per run target."""
    if not await pool.fetchval("SELECT 1 FROM prompts WHERE id = $1", prompt_id):
        raise NotFound(f"prompt {prompt_id} not found")
    runs = await pool.fetch(
        "SELECT * FROM runs WHERE status = 'completed' AND targets @> $1 "
        "ORDER BY requested_at", [{"prompt_id": prompt_id}])
    by_run: dict[str, list[CaseResult]] = {r["id"]: [] for r in runs}
    for row in await pool.fetch(  # one query for every run, not one per run
            f"SELECT r.run_id, {RESULT_WITH_SCORES} AS result FROM run_results r "
            "WHERE r.run_id = ANY($1)", list(by_run)):
        by_run[row["run_id"]].append(CaseResult.model_validate(row["result"]))
    data = [(r["id"], r["requested_at"], _targets(r), by_run[r["id"]]) for r in runs]
    return analysis.trend(data, prompt_id)
