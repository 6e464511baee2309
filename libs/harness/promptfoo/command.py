"""``harness eval -c promptfooconfig.yaml [-o results.json]``: the built-in engine with
promptfoo's command-line behaviour (progress bar, results table, ``-o`` files, exit code
100 when any test failed)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from harness.evaluation.models import CaseResult
from harness.llm import LLMClient
from harness.tracing.llm_calls import export_calls

from .config import EvalPlan, load_config
from .errors import ConfigError
from .output import test_indices, to_promptfoo_csv, to_promptfoo_json
from .parallel import run_plan_in_processes, workers_for
from .run import EvalOutcome, run_plan

EXIT_OK = 0
EXIT_FAILED = 100  # promptfoo's exit code when tests failed
EXIT_USAGE = 1
OUTPUT_TYPES = (".json", ".csv", ".yaml", ".yml")

T = TypeVar("T")


def _run(coro: Awaitable[T]) -> T:
    """Run a coroutine to completion, also when called from inside an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)  # type: ignore[arg-type]
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()  # type: ignore[arg-type]


def write_outputs(plan: EvalPlan, outcome: EvalOutcome, paths: list[Path]) -> None:
    """Write each results file in the format its extension names."""
    data: dict[str, Any] | None = None
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        suffix = path.suffix.lower()
        if suffix == ".csv":
            path.write_text(to_promptfoo_csv(plan, outcome), encoding="utf-8")
            continue
        data = data or to_promptfoo_json(plan, outcome)
        if suffix == ".json":
            path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n",
                            encoding="utf-8")
        else:
            path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True),
                            encoding="utf-8")


def _short(text: str, width: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _cell(r: CaseResult | None) -> Text:
    if r is None:
        return Text("–", style="dim")
    score = f"{r.score:.2f}" if r.score is not None else ""
    if r.status == "pass":
        cell = Text.assemble(("PASS", "bold green"), f" {score}")
        if r.output:
            cell.append(f"\n{_short(r.output, 60)}", style="dim")
        return cell
    if r.status == "fail":
        return Text.assemble(("FAIL", "bold red"), f" {score}",
                             (f"\n{_short(r.reason, 80)}", "red"))
    return Text.assemble(("ERROR", "bold magenta"),
                         (f"\n{_short(r.error or r.reason, 80)}", "magenta"))


def results_table(plan: EvalPlan, outcome: EvalOutcome) -> Table:
    """One row per test (× repeat), one column per target."""
    order = test_indices(plan, outcome.repeat)
    cases = {c.id: c for c in plan.cases}
    column = {t.target_id: i for i, t in enumerate(plan.targets)}
    rows: dict[int, dict[int, CaseResult]] = {}
    row_of: dict[int, tuple[str, int]] = {}
    for r in outcome.results:
        idx = order[(r.case_id, r.repeat)]
        rows.setdefault(idx, {})[column[r.target_id]] = r
        row_of[idx] = (r.case_id, r.repeat)
    table = Table(show_lines=True, title=plan.description, title_justify="left")
    table.add_column("#", justify="right", style="dim", no_wrap=True)
    table.add_column("test", overflow="fold", max_width=40)
    for target in plan.targets:
        table.add_column(escape(_short(target.label, 50)), overflow="fold", max_width=48)
    for idx in sorted(rows):
        case_id, repeat = row_of[idx]
        case = cases[case_id]
        name = case.metadata.get("description") or ", ".join(
            f"{k}={v}" for k, v in case.input.items()) or case.id
        if outcome.repeat > 1:
            name = f"{name} (repeat {repeat + 1})"
        table.add_row(str(idx + 1), escape(_short(name, 80)),
                      *(_cell(rows[idx].get(t)) for t in range(len(plan.targets))))
    return table


def summary_line(outcome: EvalOutcome) -> Text:
    counts = outcome.counts()
    total = sum(counts.values())
    rate = f" ({100.0 * counts['pass'] / total:.1f}% pass rate)" if total else ""
    prompt = sum(r.prompt_tokens or 0 for r in outcome.results)
    completion = sum(r.completion_tokens or 0 for r in outcome.results)
    tokens = sum((r.total_tokens if r.total_tokens is not None
                  else (r.prompt_tokens or 0) + (r.completion_tokens or 0))
                 for r in outcome.results)
    answered = [r for r in outcome.results if r.output is not None]
    cost = sum(r.cost_usd or 0.0 for r in answered)
    unknown = sum(1 for r in answered if r.cost_usd is None)
    cost_text = f"${cost:.4f}" + (f" (+{unknown} of unknown price)" if unknown else "")
    return Text.assemble(
        ("Results: ", "bold"),
        (f"{counts['pass']} passed", "green"), ", ",
        (f"{counts['fail']} failed", "red" if counts["fail"] else ""), ", ",
        (f"{counts['error']} errors", "magenta" if counts["error"] else ""), rate,
        f" · tokens: {tokens:,} (prompt {prompt:,} / completion {completion:,})",
        f" · cost: {cost_text}",
        f" · duration: {outcome.duration_ms / 1000.0:.1f}s",
    )


def eval_command(
    config: Path,
    output: Path | None = None,
    *,
    concurrency: int | None = None,
    repeat: int | None = None,
    no_cache: bool = False,
    console: Console | None = None,
    llm: LLMClient | None = None,
    on_finished: Callable[[EvalPlan, EvalOutcome], None] | None = None,
    workers: int = 1,
    table: bool = True,
) -> int:
    """Load a promptfoo config, run it with a progress bar, print the results table and
    summary, write ``output`` (``.json`` promptfoo results, ``.csv``, ``.yaml``; without
    one, the config's ``outputPath``) and return the exit code: 0 when every test
    passed, 100 when any failed or errored (promptfoo's code), 1 for a bad config or
    output path.

    ``concurrency`` / ``repeat`` default to the config's ``evaluateOptions``
    (``maxConcurrency``, ``repeat``), else 4 / 1. ``no_cache`` turns the response cache
    off (as does ``evaluateOptions.cache: false``). ``on_finished(plan, outcome)`` is
    called after the outputs are written (``--record`` uses it). ``workers``: processes
    the evaluations are split over (``harness.promptfoo.parallel``; a small eval, or one
    given its own ``llm``, runs in this process)."""
    console = console or Console()
    try:
        plan = load_config(config)
    except ConfigError as exc:
        console.print(Text.assemble(("Config error: ", "bold red"), str(exc)))
        return EXIT_USAGE
    for warning in plan.warnings:
        console.print(Text.assemble(("warning: ", "yellow"), warning))
    outputs = [Path(output)] if output is not None else list(plan.output_paths)
    for path in outputs:
        if path.suffix.lower() not in OUTPUT_TYPES:
            console.print(Text.assemble(
                ("Output error: ", "bold red"),
                f"{path}: unsupported output type {path.suffix or '(none)'!r}; use "
                f"{', '.join(OUTPUT_TYPES)}"))
            return EXIT_USAGE
    options = plan.evaluate_options
    concurrency = concurrency or options.get("maxConcurrency") or 4
    repeat = repeat or options.get("repeat") or 1
    cache_off = no_cache or options.get("cache") is False
    client = llm or LLMClient(cache=False if cache_off else None)
    exporter = export_calls(client, "harness-eval")  # HARNESS_OTLP_ENDPOINT: spans

    jobs = len(plan.pairs()) * repeat
    header = plan.description or str(plan.config_path)
    console.print(Text.assemble(
        ("Evaluating ", "bold"), header,
        f": {len(plan.cases)} tests × {len(plan.targets)} targets"
        + (f" × {repeat} repeats" if repeat > 1 else "") + f" = {jobs} evaluations"
        f" (concurrency {concurrency})"))
    with Progress(TextColumn("[progress.description]{task.description}"), BarColumn(),
                  MofNCompleteColumn(), TimeElapsedColumn(), console=console,
                  transient=True) as bar:
        task = bar.add_task("running", total=jobs)

        def advance(done: int, total: int, result: CaseResult) -> None:
            bar.update(task, completed=done)

        processes = 1 if llm is not None else workers_for(jobs, workers)
        try:
            if processes > 1:
                outcome = _run(run_plan_in_processes(
                    plan, workers=processes, llm=client, concurrency=concurrency,
                    repeat=repeat, progress=advance, cache=False if cache_off else None))
            else:
                outcome = _run(run_plan(plan, llm=client, concurrency=concurrency,
                                        repeat=repeat, progress=advance,
                                        cache=False if cache_off else None))
        finally:
            if exporter is not None:
                exporter.shutdown()  # sends what is left

    if outcome.results and table:  # promptfoo's --no-table skips it
        console.print(results_table(plan, outcome))
    console.print(summary_line(outcome))
    console.print(Text(f"Eval id: {outcome.eval_id}", style="dim"))
    try:
        write_outputs(plan, outcome, outputs)
    except OSError as exc:
        console.print(Text.assemble(("Output error: ", "bold red"), str(exc)))
        return EXIT_USAGE
    for path in outputs:
        console.print(Text(f"Wrote {path}", style="dim"))
    if on_finished is not None:
        on_finished(plan, outcome)
    counts = outcome.counts()
    return EXIT_FAILED if counts["fail"] or counts["error"] else EXIT_OK
