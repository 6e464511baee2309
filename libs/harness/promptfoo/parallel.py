"""``harness eval --workers N``: an eval's evaluations split over N processes.

LiteLLM costs milliseconds of CPU per call, so one process tops out near 100 calls a
second whatever the concurrency. Each child runs one contiguous slice of the evaluations
(``run_plan(part=(i, n))``) at its share of the concurrency; the parent puts the slices
back in promptfoo's order and applies the comparisons across a test's outputs
(select-best, max-score) as one process would.

Where the platform has ``fork`` (Linux), the children are forked after the parent has
parsed the config and imported LiteLLM, so they inherit both: importing LiteLLM (~2 s of
CPU) and parsing a large config once per child was what kept two processes from being
faster than one. Elsewhere they are spawned and load both themselves.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import multiprocessing
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from harness.evaluation.execute import Grading
from harness.evaluation.models import CaseResult
from harness.llm import LLMClient

from .compare import apply_comparisons
from .config import EvalPlan
from .run import EvalOutcome, Progress, new_eval_id

MIN_PER_WORKER = 100
"""Fewer evaluations than this per process run in one process: starting a process (and
loading LiteLLM in it) costs more than it saves."""


PROGRESS_EVERY_S = 0.2
"""How often a child reports its progress to the parent."""


def workers_for(evaluations: int, workers: int) -> int:
    """How many processes an eval of ``evaluations`` uses when ``workers`` are allowed."""
    return max(1, min(workers, evaluations // MIN_PER_WORKER))


_INHERITED: EvalPlan | None = None
"""The parent's parsed plan, which forked children inherit instead of parsing it again."""


def _context() -> multiprocessing.context.BaseContext:
    return multiprocessing.get_context(
        "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")


def _part(config: str, part: tuple[int, int], concurrency: int, repeat: int,
          cache: bool | None, eval_id: str, progress) -> list[dict]:
    from .config import load_config
    from .run import run_plan

    if _INHERITED is None:  # spawned: a fresh interpreter sets up logging itself
        from harness.config import get_settings
        from harness.logging import configure_logging, wants_json

        s = get_settings()
        configure_logging(s.log_level, wants_json(s.log_format, s.log_json))  # on stderr

    reported = [0, time.monotonic()]  # evaluations reported to the parent, and when

    def tick(done: int, total: int, result: CaseResult) -> None:
        # a few reports a second, not one per evaluation: each is a round trip to the
        # manager process, which cost more CPU than the evaluation's own bookkeeping
        now = time.monotonic()
        if done == total or now - reported[1] >= PROGRESS_EVERY_S:
            progress.put(done - reported[0])
            reported[0], reported[1] = done, now

    plan = _INHERITED if _INHERITED is not None else load_config(Path(config))
    outcome = asyncio.run(run_plan(
        plan, llm=LLMClient(cache=False if cache is False else None),
        concurrency=concurrency, repeat=repeat, cache=cache, eval_id=eval_id, part=part,
        progress=tick))
    if len(outcome.results) > reported[0]:  # the last ones, when reported too recently
        progress.put(len(outcome.results) - reported[0])
    return [r.model_dump(mode="json") for r in outcome.results]


async def run_plan_in_processes(plan: EvalPlan, *, workers: int, llm: LLMClient,
                                concurrency: int = 4, repeat: int = 1,
                                cache: bool | None = None,
                                progress: Progress | None = None) -> EvalOutcome:
    """``run_plan`` with its evaluations over ``workers`` processes (same outcome)."""
    global _INHERITED
    started_at = datetime.now(UTC)
    eval_id = new_eval_id(started_at)
    clock = time.perf_counter()
    ctx = _context()
    if ctx.get_start_method() == "fork":
        await llm.warmup()  # LiteLLM fully imported before the fork: no half-held locks
        _INHERITED = plan
    share = -(-concurrency // workers)
    with ctx.Manager() as manager, concurrent.futures.ProcessPoolExecutor(
            workers, mp_context=ctx) as pool:
        ticks = manager.Queue()
        done, total = 0, len(plan.pairs()) * repeat
        stop = threading.Event()

        def count() -> None:  # progress as the children report it
            nonlocal done
            while not stop.is_set():
                with contextlib.suppress(Exception):
                    done += ticks.get(timeout=0.2)
                    if progress is not None:
                        progress(done, total, None)  # type: ignore[arg-type]

        reader = threading.Thread(target=count, daemon=True)
        reader.start()
        loop = asyncio.get_running_loop()
        parts = [loop.run_in_executor(pool, _part, str(plan.config_path), (i, workers), share,
                                      repeat, cache, eval_id, ticks)
                 for i in range(workers)]
        try:
            sliced = await asyncio.gather(*parts)
        finally:
            _INHERITED = None
            stop.set()
            reader.join(timeout=5)
    from multiprocessing import resource_tracker

    with contextlib.suppress(Exception):  # spawn's helper process: nothing left to track
        resource_tracker._resource_tracker._stop()
    results = [CaseResult.model_validate(r) for part in sliced for r in part]
    results = await apply_comparisons(plan, results, Grading(llm=llm), repeat=repeat)
    return EvalOutcome(
        eval_id=eval_id, results=results, repeat=repeat, concurrency=concurrency,
        started_at=started_at, finished_at=datetime.now(UTC),
        duration_ms=(time.perf_counter() - clock) * 1000.0)
