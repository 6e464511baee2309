"""Runner processes on one machine: the local stack's way to use every core.

LiteLLM costs milliseconds of CPU per call, so one Python process tops out near 100 calls
a second whatever the concurrency. ``harness up`` / ``harness run`` with ``--workers N``
(default: one per core) hand each shard's items to one of N child processes; the parent
(registry, relay, ingestion) receives each result as it is made and records it as the
runner always does (deterministic ids). A child needs nothing but the job: the run's
request, the items' cases, its share of the run's concurrency; it makes its own LLM
client from the environment (``HARNESS_LLM_DEPLOYMENTS`` and provider keys).

Spans: the children export nothing themselves. A child gives each case the span id it
will have (when the job was handed out under a recording span: the shard's) and sends,
with the case's result, the case's span (ids, times, what it carries) and its LLM calls'
traces, children of that span; the parent exports the case span (under the shard's, with
exactly those ids) and queues the calls' traces (stored, exported). The result records
the case span (``trace_context``) as an in-process run's does, so the scorer nests its
judge calls under it. A case's spans travel in one message with its result: a child
killed in the middle of a case leaves neither a result nor spans of it (the case is run
again, once), and a result is never sent without them.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import itertools
import multiprocessing
import queue
import sys
import threading
import time
import types
from collections.abc import AsyncIterator, Callable
from typing import Any

import structlog

from harness import gc_tuning

log = structlog.get_logger(__name__)

_DONE = "done"
_RESULT = "result"
_TRACE = "trace"
_FAILED = "failed"


@contextlib.contextmanager
def _bare_main():
    """While processes are spawned: ``spawn`` runs the parent's ``__main__`` again in each
    child (and in the manager's process). The children need none of it, and it may be
    anything: the CLI, uvicorn, or under a test runner a Streamlit page that AppTest left
    as ``__main__``, which then ran in the children and killed them. They start from an
    empty one."""
    main = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        if main is not None:
            sys.modules["__main__"] = main


class ShardPool:
    """``workers`` child processes; :meth:`run` executes one job's items in one of them."""

    def __init__(self, workers: int, *, on_trace: Callable[[Any], None] | None = None
                 ) -> None:
        self.workers = workers
        self.on_trace = on_trace  # called on the event loop the pool was made on
        try:
            self._loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            self._loop = None
        self._jobs: dict[int, tuple[asyncio.AbstractEventLoop, asyncio.Queue]] = {}
        self._parents: dict[int, Any] = {}  # job -> the span current when it was handed out
        self.spans: Any = None  # the WorkflowSpans the children's case spans are made in
        self._ids = itertools.count()
        self._started = False  # the processes start with the first job: an idle stack
        #                        (or one killed before any sharded run) leaves none behind

    def _start(self) -> None:
        if self._started:
            return
        ctx = multiprocessing.get_context("spawn")
        with _bare_main():
            self._manager = ctx.Manager()
        self._results = self._manager.Queue()
        self._stopped = self._manager.dict()  # job id -> True: stop taking items
        # each child defers the garbage collector while it imports; warming LiteLLM for
        # its first job settles it (harness.gc_tuning)
        self._executor = concurrent.futures.ProcessPoolExecutor(
            self.workers, mp_context=ctx, initializer=gc_tuning.defer)
        self._reader = threading.Thread(target=self._read, name="shard-pool-results",
                                        daemon=True)
        self._reader.start()
        self._started = True

    def _read(self) -> None:
        """Hand each message of the children to the job's queue on its event loop."""
        while True:
            try:
                message = self._results.get()
            except (EOFError, OSError):
                return
            if message is None:
                return
            kind, job, payload = message
            if kind == _TRACE:
                if getattr(payload, "parent", None) is None:
                    payload.parent = self._parents.get(job)
                self._on_loop(self._trace, payload)
                continue
            if kind == _RESULT:
                # the case's spans, whether or not the job still waits for its results
                # (a case finished after a cancel was still made: its calls are stored)
                self._on_loop(self._case_done, self._parents.get(job), payload)
                payload = payload["result"]
            target = self._jobs.get(job)
            if target is not None:
                loop, queue = target
                with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                    loop.call_soon_threadsafe(queue.put_nowait, (kind, payload))

    def _on_loop(self, callback: Callable[..., None], *args: Any) -> None:
        if self._loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                self._loop.call_soon_threadsafe(callback, *args)

    def _trace(self, trace: Any) -> None:
        if self.on_trace is not None:
            self.on_trace(trace)

    def _case_done(self, parent: Any, payload: dict[str, Any]) -> None:
        """Export a child's case span and queue its calls' traces (on the pool's loop)."""
        from opentelemetry.trace import SpanContext, TraceFlags

        span = payload.get("span")
        if span is not None and self.spans is not None:
            with contextlib.suppress(Exception):  # exporting never loses a result
                self.spans.finished_case(**span)
            parent = SpanContext(int(span["trace_id"], 16), int(span["span_id"], 16),
                                 is_remote=False, trace_flags=TraceFlags(TraceFlags.SAMPLED))
        for trace in payload.get("calls") or []:
            if trace.parent is None:
                trace.parent = parent
            self._trace(trace)

    async def run(self, request: dict[str, Any], items: list[tuple[dict, int, int]],
                  concurrency: int, *, spans: Any = None) -> AsyncIterator[dict]:
        """Each result (a ``CaseResult`` dump) of ``items`` (case dump, target index,
        repeat) as a child makes it. Leaving the iteration early stops the job.

        ``spans``: the WorkflowSpans to make the cases' spans in, children of the span
        current now (none when it does not record)."""
        from harness.tracing.spans import current_parent

        self._start()
        job = next(self._ids)
        queue: asyncio.Queue = asyncio.Queue()
        self._jobs[job] = (asyncio.get_running_loop(), queue)
        parent = self._parents[job] = current_parent()
        under = None  # (trace id, span id) the children's case spans are children of
        if spans is not None and spans.enabled and parent is not None:
            self.spans = spans
            under = (format(parent.trace_id, "032x"), format(parent.span_id, "016x"))
        with _bare_main():  # a submit may spawn a process
            future = self._executor.submit(_run_job, job, request, items, concurrency,
                                           self._results, self._stopped, under)
        try:
            while True:
                kind, payload = await queue.get()
                if kind == _RESULT:
                    yield payload
                elif kind == _FAILED:
                    raise RuntimeError(payload)
                else:
                    break
            await asyncio.wrap_future(future)
        finally:
            if not future.done():
                self._stopped[job] = True
            self._jobs.pop(job, None)
            self._parents.pop(job, None)

    def close(self) -> None:
        if not self._started:
            return
        for job in list(self._jobs):
            self._stopped[job] = True
        self._executor.shutdown(wait=True, cancel_futures=True)
        with contextlib.suppress(Exception):
            self._results.put(None)
        self._reader.join(timeout=5)
        self._manager.shutdown()
        # the helper process spawn started for this process's semaphores: nothing is left
        # to track, and it would otherwise outlive a stopped stack (tests count processes)
        from multiprocessing import resource_tracker

        with contextlib.suppress(Exception):
            resource_tracker._resource_tracker._stop()


# ---- in the child ------------------------------------------------------------------------

_llm = None
_job_now: int | None = None  # the job this process works (a process works one at a time)
_sender_now: _Sender | None = None  # and where its messages go
# the traces of the LLM calls of the case being evaluated (sent with its result)
_case_calls: contextvars.ContextVar[list | None] = contextvars.ContextVar(
    "harness_pool_case_calls", default=None)


def _client():
    """This child's LLM client (one per process), its calls' traces sent to the parent."""
    global _llm
    if _llm is None:
        from harness.config import get_settings
        from harness.llm import LLMClient
        from harness.logging import configure_logging, wants_json
        from harness.tracing.llm_calls import trace_of_call

        s = get_settings()
        configure_logging(s.log_level, wants_json(s.log_format, s.log_json))  # on stderr

        def send_trace(call) -> None:
            calls = _case_calls.get()
            if calls is not None:  # sent with the case's result
                calls.append(trace_of_call(call))
                return
            if _sender_now is not None:
                _sender_now.put((_TRACE, _job_now, trace_of_call(call)))

        _llm = LLMClient(deployments=get_settings().llm_deployments, observers=[send_trace])
    return _llm


class _Sender:
    """Puts on the manager's queue from a thread of its own, in order: each put is a round
    trip to the manager process, which in the event loop's thread stalled every case in
    flight for it (twice per case with the stop check)."""

    def __init__(self, results) -> None:
        self.results = results
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._send, name="shard-pool-sender",
                                        daemon=True)
        self._thread.start()

    def put(self, message: tuple) -> None:
        self._queue.put(message)

    def _send(self) -> None:
        while True:
            message = self._queue.get()
            if message is None:
                return
            with contextlib.suppress(Exception):  # the parent went away
                self.results.put(message)

    def close(self) -> None:
        """Send what is queued, then stop (before the job returns: nothing is lost)."""
        self._queue.put(None)
        self._thread.join()


class _StopCheck:
    """Whether the parent stopped the job, asked of the manager at most every
    ``every_s`` (a round trip each time)."""

    def __init__(self, stopped, job: int, every_s: float = 0.25) -> None:
        self.stopped, self.job, self.every_s = stopped, job, every_s
        self._asked_at: float | None = None
        self._answer = False

    def __call__(self) -> bool:
        now = time.monotonic()
        if self._asked_at is None or now - self._asked_at >= self.every_s:
            with contextlib.suppress(Exception):
                self._answer = bool(self.stopped.get(self.job))
            self._asked_at = now
        return self._answer


def _run_job(job: int, request: dict, items: list, concurrency: int, results, stopped,
             under: tuple[str, str] | None = None) -> None:
    global _job_now, _sender_now
    _job_now = job
    sender = _sender_now = _Sender(results)
    try:
        asyncio.run(_job(job, request, items, concurrency, sender, _StopCheck(stopped, job),
                         under))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which raises it
        sender.put((_FAILED, job, f"{type(exc).__name__}: {exc}"))
        return
    else:
        sender.put((_DONE, job, None))
    finally:
        _sender_now = None
        sender.close()


async def _job(job: int, request: dict, items: list, concurrency: int, results: _Sender,
               stopped: Callable[[], bool], under: tuple[str, str] | None = None) -> None:
    from harness.evaluation.execute import Grading, default_judge_model, evaluate_case
    from harness.evaluation.models import Target, TestCaseSnapshot
    from harness.events.run_events import RunRequested
    from harness.llm.options import JUDGE_OPTIONS, allowed_options
    from harness.tracing.context import new_span_id

    req = RunRequested.model_validate(request)
    llm = _client()
    targets = [Target.model_validate({**t, "params": allowed_options(t.get("params") or {})})
               for t in req.targets]
    grading = Grading(llm, judge_model=req.judge_model or default_judge_model(),
                      judge_params=allowed_options(req.judge_params, JUDGE_OPTIONS) or None,
                      labels={"run_id": req.run_id})
    work = iter(items)

    async def worker() -> None:
        for case, target, repeat in work:
            if stopped():
                return
            t, snapshot = targets[target], TestCaseSnapshot.model_validate(case)
            calls: list = []
            token = _case_calls.set(calls)
            start = time.time_ns()
            try:
                result = await evaluate_case(grading, t, snapshot, run_id=req.run_id,
                                             repeat=repeat, default_assert=req.default_assert,
                                             cache=req.cache)
            finally:
                _case_calls.reset(token)
            span = None
            if under is not None:  # the case's span, as an in-process run makes it
                span = {"run_id": req.run_id, "case_id": snapshot.id,
                        "trace_id": under[0], "span_id": new_span_id(),
                        "parent_span_id": under[1], "start_ns": start,
                        "end_ns": time.time_ns(), "input": snapshot.input,
                        "output": result.output,
                        "facts": {"repeat": repeat, "target_id": t.target_id,
                                  "model": t.model, "prompt_name": t.prompt_name,
                                  "prompt_version": t.prompt_version,
                                  "status": result.status, "score": result.score}}
                result = result.model_copy(update={"trace_context": {
                    "trace_id": span["trace_id"], "span_id": span["span_id"]}})
            results.put((_RESULT, job, {"result": result.model_dump(mode="json"),
                                        "span": span, "calls": calls}))

    await asyncio.gather(*[worker() for _ in range(max(1, min(concurrency, len(items))))])
