"""The generator: turns ``GenerationRequested`` into batches of ``CasesGenerated``, then
``GenerationCompleted`` (or ``GenerationFailed`` naming the documents when nothing could
be made).

Stateless: the request names the documents in the artifact store and every option; the
plan of questions is deterministic, so every attempt plans the same questions in the
same batches. Batches already recorded are skipped and every fact has a deterministic
id, so a redelivered request or a restarted generator neither repeats model calls for
recorded batches nor adds a case twice.

Cancelling: ``GenerationCancelled`` on the bus cancels the generation's task in this
process at once (the batch in flight is dropped). A generator the event does not reach
(another instance, or a Pub/Sub subscription that delivers a stream's events in order)
reads the status before each batch and stops there. A request of a cancelled generation
does nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import socket
from collections.abc import Callable
from typing import Any

import structlog

from harness import metrics
from harness.artifacts import ArtifactStore
from harness.artifacts.port import ArtifactNotFound
from harness.events import StoredEvent, streams
from harness.events.generation_events import (
    CasesGenerated,
    GenerationCancelled,
    GenerationCompleted,
    GenerationFailed,
    GenerationRequested,
    GenerationStarted,
    generation_event_id,
)
from harness.generation import (
    DirectEngine,
    DocumentError,
    Outcome,
    RagasEngine,
    batches,
    case_from,
    chunk_document,
    effective_kinds,
    error_from,
    extract,
    plan_questions,
)
from harness.generation.chunking import Chunk
from harness.llm import LLMClient
from harness.llm.options import JUDGE_OPTIONS, allowed_options
from harness.scoring.judge import Usage
from harness.tracing.spans import spans_of
from services.worker_results import ResultSink
from services.worker_tasks import WorkerTasks

from .ports import GenerationProgress, Recorded

log = structlog.get_logger(__name__)

HANDLED_TYPES = {GenerationRequested.TYPE, GenerationCancelled.TYPE}
BATCH_SIZE = 10



def usage_report(usage: Usage) -> dict[str, Any]:
    return {"calls": usage.judge_calls, "cached_calls": usage.cached_calls,
            "prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens,
            "cost_usd": usage.cost_usd, "embedding_calls": usage.embedding_calls}


def usage_delta(after: dict[str, Any], before: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in after.items():
        if key == "cost_usd":
            out[key] = None if value is None or before[key] is None else value - before[key]
        else:
            out[key] = value - before[key]
    return out


class Generator:
    def __init__(self, *, llm: LLMClient, artifacts: ArtifactStore, sink: ResultSink,
                 progress: GenerationProgress, default_model: str,
                 embedding_model: str | None = None, concurrency: int = 8,
                 batch_size: int = BATCH_SIZE, worker_id: str | None = None) -> None:
        self.llm = llm
        self.artifacts = artifacts
        self.sink = sink
        self.progress = progress
        self.default_model = default_model
        self.embedding_model = embedding_model
        self.concurrency = concurrency
        self.batch_size = batch_size
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}"
        self.tasks = WorkerTasks("generation")

    # ---- bus entry point -------------------------------------------------------------

    async def handle(self, event: StoredEvent) -> None:
        """Start a generation in the background (returns at once), or cancel one."""
        if event.type == GenerationRequested.TYPE:
            self.start(GenerationRequested.model_validate(event.data))
        elif event.type == GenerationCancelled.TYPE:
            self.cancel(event.data["generation_id"])

    def cancel(self, generation_id: str) -> bool:
        """Stop the generation's task if it runs here; it then ends normally (unlike a
        task cancelled by a shutdown, whose request is to be worked again)."""
        return self.tasks.cancel(generation_id)

    def start(self, req: GenerationRequested) -> asyncio.Task:
        """The generation's task (the one in progress, if any: a redelivery joins it)."""
        return self.tasks.start(req.generation_id, lambda: self._guarded(req))

    async def resume_unfinished(self, load_request: Callable) -> int:
        """After a restart: pick up generations that were requested but never finished."""
        count = 0
        for generation_id in await self.progress.unfinished():
            req = await load_request(generation_id)
            if req is not None:
                self.start(req)
                count += 1
        return count

    async def _guarded(self, req: GenerationRequested) -> None:
        metrics.generator_generations.labels("started").inc()
        try:
            with metrics.generator_in_flight.track_inprogress():
                await self.execute(req)
            metrics.generator_generations.labels("completed").inc()
        except asyncio.CancelledError:
            metrics.generator_generations.labels("cancelled").inc()
            with contextlib.suppress(Exception):
                await self.sink.flush()
            if self.tasks.cancelled_on_request(req.generation_id):
                log.info("generation_stopped", generation_id=req.generation_id,
                         by="GenerationCancelled")
                return
            raise
        except Exception as exc:
            metrics.generator_generations.labels("failed").inc()
            log.exception("generation_failed", generation_id=req.generation_id)
            await self._fail(req, f"{type(exc).__name__}: {exc}")

    async def _fail(self, req: GenerationRequested, error: str,
                    documents: list[dict[str, Any]] | None = None) -> None:
        await self.sink.publish(streams.generation(req.generation_id),
                                GenerationFailed(generation_id=req.generation_id, error=error,
                                                 documents=documents or []),
                                generation_event_id(req.generation_id, "failed"))
        await self.sink.flush()

    # ---- the work ----------------------------------------------------------------------

    async def _document_chunks(self, doc: dict[str, Any], chunk_size: int) -> list[Chunk]:
        name = doc["name"]
        try:
            data = await self.artifacts.get(doc["uri"])
        except ArtifactNotFound as exc:
            raise DocumentError(name, "the uploaded file is missing from the artifact store"
                                ) from exc
        if doc.get("sha256") and hashlib.sha256(data).hexdigest() != doc["sha256"]:
            raise DocumentError(name, "the stored file does not match its SHA-256")

        def read() -> list[Chunk]:  # PDF parsing and splitting: off the event loop
            return chunk_document(extract(name, doc["kind"], data,
                                          text_column=doc.get("text_column")), chunk_size)

        return await asyncio.to_thread(read)

    async def _chunks(self, req: GenerationRequested
                      ) -> tuple[list[Chunk], list[dict[str, Any]]]:
        """Every usable document's chunks, and a report per document (passages or error)."""
        chunks: list[Chunk] = []
        report: list[dict[str, Any]] = []
        for doc in req.documents:
            try:
                found = await self._document_chunks(doc, req.chunk_size)
            except DocumentError as exc:
                report.append({"name": doc["name"], "error": exc.reason})
                continue
            chunks += found
            report.append({"name": doc["name"], "passages": len(found)})
        return chunks, report

    def _engine(self, req: GenerationRequested, usage: Usage):
        model = req.model or self.default_model
        # LLM options only, whatever an older event holds: endpoints are server config
        params = allowed_options(req.params, JUDGE_OPTIONS)
        if req.engine == "ragas":
            return RagasEngine(self.llm, model, params=params, usage=usage,
                               embedding_model=self.embedding_model,
                               concurrency=self.concurrency)
        return DirectEngine(self.llm, model, params=params, usage=usage,
                            concurrency=self.concurrency)

    async def execute(self, req: GenerationRequested) -> None:
        """The generation, one trace: its span (the ids its request recorded: a child of
        the span of the request that asked for it), its model calls under it."""
        with spans_of(self.llm).generation(
                req.generation_id, trace=req.trace_context, dataset_id=req.dataset_id,
                input={"documents": [d.get("name") for d in req.documents],
                       "num_questions": req.num_questions, "engine": req.engine}) as span:
            outcome = await self._execute(req)
            if outcome is not None:
                span.output(outcome)

    async def _execute(self, req: GenerationRequested) -> dict[str, Any] | None:
        gid = req.generation_id
        before = await self.progress.recorded(gid) or Recorded(status="queued")
        if before.finished:
            log.info("generation_already_finished", generation_id=gid, status=before.status)
            return None
        chunks, documents = await self._chunks(req)
        if not chunks:
            reasons = "; ".join(f"{d['name']}: {d['error']}" for d in documents)
            await self._fail(req, f"no usable document: {reasons}", documents)
            return {"failed": reasons}
        try:
            kinds = effective_kinds(req.question_kinds, len(chunks))
            plan = plan_questions(chunks, req.num_questions, kinds, seed=gid)
        except ValueError as exc:
            await self._fail(req, str(exc), documents)
            return {"failed": str(exc)}
        usage = Usage()
        engine = self._engine(req, usage)
        await self.sink.publish(streams.generation(gid), GenerationStarted(
            generation_id=gid, worker=self.worker_id, engine=engine.label, planned=len(plan),
            documents=documents), generation_event_id(gid, "started"))
        todo = [(b, items) for b, items in enumerate(batches(plan, self.batch_size))
                if b not in before.batches]
        log.info("generation_started", generation_id=gid, engine=engine.label,
                 planned=len(plan), batches_left=len(todo), chunks=len(chunks))

        attempt = _Attempt(req, engine.label, usage)
        if engine.plans_whole and todo:  # one Ragas run over every passage, then batches
            outcomes = await engine.generate([i for _, items in todo for i in items], chunks,
                                             req.language)
            by_item = {o.item.index: o for o in outcomes}
            for b, items in todo:
                if await self._cancelled_meanwhile(gid):
                    return {"cancelled": True}
                await self._record_batch(attempt, b, [by_item[i.index] for i in items])
        else:
            for b, items in todo:
                if await self._cancelled_meanwhile(gid):
                    return {"cancelled": True}
                await self._record_batch(attempt, b,
                                         await engine.generate(items, chunks, req.language))

        generated = before.generated + attempt.made
        not_made = before.failed + len(attempt.errors)
        if generated == 0:
            why = attempt.why() if attempt.errors else (
                "every planned question failed (see the errors of the generation)")
            await self._fail(req, f"no question could be generated: {why}", documents)
            return {"failed": why}
        await self.sink.publish(streams.generation(gid), GenerationCompleted(
            generation_id=gid, generated=generated, failed=not_made),
            generation_event_id(gid, "completed"))
        await self.sink.flush()
        log.info("generation_completed", generation_id=gid, generated=generated,
                 failed=not_made, usage=usage_report(usage))
        return {"generated": generated, "failed": not_made}

    async def _cancelled_meanwhile(self, generation_id: str) -> bool:
        """At a batch boundary: has the registry recorded a cancellation?"""
        now = await self.progress.recorded(generation_id)
        if now is None or now.status != "cancelled":
            return False
        await self.sink.flush()
        log.info("generation_stopped", generation_id=generation_id, by="status")
        return True

    async def _record_batch(self, attempt: _Attempt, batch: int, outcomes: list[Outcome]
                            ) -> None:
        req = attempt.req
        made = [case_from(req.generation_id, o, engine=attempt.engine, language=req.language)
                for o in outcomes if o.qa is not None]
        errors = [error_from(o) for o in outcomes if o.qa is None]
        attempt.made += len(made)
        metrics.generator_cases.inc(len(made))
        attempt.errors += errors
        await self.sink.publish(streams.generation(req.generation_id), CasesGenerated(
            generation_id=req.generation_id, dataset_id=req.dataset_id, batch=batch,
            cases=made, errors=errors, usage=attempt.spent()),
            generation_event_id(req.generation_id, f"batch:{batch}"))
        await self.sink.flush()  # progress is visible batch by batch


class _Attempt:
    """One attempt at a generation: what it made, what failed, what it spent."""

    def __init__(self, req: GenerationRequested, engine: str, usage: Usage) -> None:
        self.req = req
        self.engine = engine
        self.usage = usage
        self.made = 0
        self.errors: list[dict[str, Any]] = []
        self._reported = usage_report(Usage())

    def spent(self) -> dict[str, Any]:
        """Usage since the last call (each batch reports its own)."""
        now = usage_report(self.usage)
        delta, self._reported = usage_delta(now, self._reported), now
        return delta

    def why(self) -> str:
        """The distinct failures of this attempt, each with its documents (at most 3)."""
        messages = list(dict.fromkeys(
            f"{', '.join(e['documents']) or 'documents'}: {e['message']}" for e in self.errors))
        more = f" (and {len(messages) - 3} more)" if len(messages) > 3 else ""
        return "; ".join(messages[:3]) + more
