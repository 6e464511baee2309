"""Score cases: check what each metric needs, run it through Ragas, account for it."""

from __future__ import annotations

import asyncio
import contextlib
import math
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from types import ModuleType
from typing import Any

import structlog

from harness.llm import LLMClient, LLMError

from .embeddings import EmbeddingCache, EmbeddingError
from .judge import JudgeConfig, JudgeOutputError, JudgeSession, Usage
from .models import FIELD_LABELS, MetricScore, MetricSpec, ScoringInput
from .registry import resolve_metrics

log = structlog.get_logger(__name__)

DEFAULT_JUDGE_CONCURRENCY = 16
# around(i) for Scorer.score_cases: entered while case i is scored; gives None or a
# callable that takes the case's scores
CaseWrapper = Callable[[int], AbstractContextManager[Callable[[list[MetricScore]], None] | None]]

_engine_lock = threading.Lock()
_engine: ModuleType | None = None
_engine_error: str | None = None
_shared_metrics: dict[int, Any] = {}


def _import_engine() -> ModuleType:
    global _engine, _engine_error
    with _engine_lock:
        if _engine is None and _engine_error is None:
            try:
                from . import _ragas
            except Exception as exc:  # noqa: BLE001 - reported on every score instead
                _engine_error = (
                    "Ragas could not be imported (install harness with the 'scorer' extra): "
                    f"{type(exc).__name__}: {exc}"
                )
                log.error("scoring.ragas_import_failed", error=_engine_error)
            else:
                _engine = _ragas
    if _engine is None:
        raise RuntimeError(_engine_error)
    return _engine


async def load_engine() -> ModuleType:
    """Import Ragas (seconds, once per process) off the event loop."""
    if _engine is not None:
        return _engine
    return await asyncio.to_thread(_import_engine)


def engine_name() -> str | None:
    """``"ragas <version>"`` once the engine is loaded."""
    return _engine.ENGINE if _engine is not None else None


def missing_fields(spec: MetricSpec, case: ScoringInput) -> list[str]:
    """The fields ``spec`` needs that ``case`` lacks (None, blank, or no passage)."""
    missing = []
    for name in spec.requires:
        if name == "answer" and spec.blank_answer_ok:
            if case.answer is None:
                missing.append(name)
        elif not case.present(name):
            missing.append(name)
    return missing


def _not_applicable_reason(spec: MetricSpec, missing: list[str]) -> str:
    labels = ", ".join(FIELD_LABELS.get(m, m) for m in missing)
    return f"{spec.name} needs {labels}; the case has none"


class Scorer:
    """Computes metrics for cases with one judge model and one embedding model.

    Judge calls go through ``llm.complete`` at temperature 0 (so the response cache is
    on) with ``judge_max_retries`` retries, at most ``max_concurrency`` at a time across
    every case this scorer (or anything sharing ``limiter``) scores. ``judge_params``
    are LiteLLM kwargs for the judge (``api_base``, ``api_key``, ...). Embeddings:
    ``embedding_model`` None = the bundled offline model; vectors are cached per text.
    """

    def __init__(
        self,
        llm: LLMClient,
        judge_model: str | None,
        embedding_model: str | None = None,
        *,
        judge_params: dict[str, Any] | None = None,
        judge_fallback_models: list[str] | None = None,
        embedding_params: dict[str, Any] | None = None,
        max_concurrency: int = DEFAULT_JUDGE_CONCURRENCY,
        limiter: asyncio.Semaphore | None = None,
        judge_max_retries: int = 3,
        judge_timeout_s: float = 60.0,
        judge_max_tokens: int | None = None,
        parse_retries: int = 1,
        strictness: int = 3,
    ) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        if strictness < 1:
            raise ValueError("strictness must be at least 1")
        self.llm = llm
        self.judge = (
            JudgeConfig(
                model=judge_model, params=dict(judge_params or {}),
                fallback_models=list(judge_fallback_models or []),
                max_retries=judge_max_retries, timeout_s=judge_timeout_s,
                max_tokens=judge_max_tokens, parse_retries=parse_retries,
            )
            if judge_model
            else None
        )
        self.embeddings = EmbeddingCache(llm, embedding_model, embedding_params)
        self.limiter = limiter or asyncio.Semaphore(max_concurrency)
        self.strictness = strictness
        self._metrics: Any = None

    async def _ragas_metrics(self) -> Any:
        if self._metrics is None:
            engine = await load_engine()
            # stateless (judge and embedding metrics are built per call): share them
            metrics = _shared_metrics.get(self.strictness)
            if metrics is None:
                metrics = _shared_metrics[self.strictness] = engine.RagasMetrics(
                    strictness=self.strictness
                )
            self._metrics = metrics
        return self._metrics

    async def prepare(self, metrics: Sequence[str]) -> None:
        """Load what ``metrics`` need, once per process and off the event loop: Ragas,
        then LiteLLM for a judge, then the local embedding model. One after another:
        loaded at once they contend for the GIL and the import lock and take longer.
        A failure is left for each score to report."""
        specs = resolve_metrics(list(metrics))
        with contextlib.suppress(RuntimeError):
            await self._ragas_metrics()
        if self.judge is not None and any(s.uses_judge for s in specs):
            with contextlib.suppress(Exception):
                await self.llm.warmup()
        if self.embeddings.is_local and any(s.uses_embeddings for s in specs):
            from harness.llm.local_embeddings import get_local_embedder

            with contextlib.suppress(Exception):
                await asyncio.to_thread(get_local_embedder().load)

    async def score_case(
        self, case: ScoringInput | dict[str, Any], metrics: Sequence[str]
    ) -> list[MetricScore]:
        """One :class:`MetricScore` per metric (aliases resolved, duplicates dropped), in
        the order asked. Raises :class:`UnknownMetricError` for an unknown name; every
        other problem is a score with status "not_applicable" or "error"."""
        specs = resolve_metrics(list(metrics))
        await self.prepare([s.name for s in specs])
        return await self._score_case(case, specs)

    async def _score_case(
        self, case: ScoringInput | dict[str, Any], specs: list[MetricSpec]
    ) -> list[MetricScore]:
        if not isinstance(case, ScoringInput):
            case = ScoringInput.model_validate(case)
        # Model metrics wait on the network: run them together. The others are a few
        # microseconds of CPU each: run them in line, without a task apiece.
        waiting = [s for s in specs if s.uses_judge or s.uses_embeddings]
        done = dict(zip(
            (s.name for s in waiting),
            await asyncio.gather(*(self._score(s, case) for s in waiting)) if waiting else [],
            strict=True,
        ))
        for spec in specs:
            if spec.name not in done:
                done[spec.name] = await self._score(spec, case)
        return [done[spec.name] for spec in specs]

    async def score_cases(
        self, cases: Sequence[ScoringInput | dict[str, Any]], metrics: Sequence[str],
        *, around: CaseWrapper | None = None,
    ) -> list[list[MetricScore]]:
        """:meth:`score_case` for many cases at once (judge calls still limited). The
        texts known upfront (both sides of ``answer_semantic_similarity``, the question
        of ``answer_relevancy``) are asked for first, so that they go out in large
        embedding batches while the judge calls start. ``around(i)``: a context manager
        entered while case ``i`` is scored (a tracing span); what it gives, when not
        None, is called with the case's scores."""
        specs = resolve_metrics(list(metrics))
        parsed = [c if isinstance(c, ScoringInput) else ScoringInput.model_validate(c)
                  for c in cases]
        await self.prepare([s.name for s in specs])
        texts = _known_texts(specs, parsed)
        prefetch = asyncio.create_task(self._prefetch(texts)) if texts else None
        try:
            scores = await asyncio.gather(*(self._score_around(around, i, c, specs)
                                            for i, c in enumerate(parsed)))
        except BaseException:
            if prefetch is not None:
                prefetch.cancel()
            raise
        if prefetch is not None:
            await prefetch
        return list(scores)

    async def _score_around(self, around: CaseWrapper | None, i: int, case: ScoringInput,
                            specs: list[MetricSpec]) -> list[MetricScore]:
        if around is None:
            return await self._score_case(case, specs)
        with around(i) as scored:
            scores = await self._score_case(case, specs)
            if scored is not None:
                scored(scores)
        return scores

    async def _prefetch(self, texts: list[str]) -> None:
        try:
            await self.embeddings.embed(texts)
        except Exception as exc:  # noqa: BLE001 - each case reports it on its own
            log.warning("scoring.embedding_prefetch_failed", error=str(exc)[:300])

    async def _score(self, spec: MetricSpec, case: ScoringInput) -> MetricScore:
        started = time.perf_counter()
        missing = missing_fields(spec, case)
        if missing:
            return MetricScore(
                metric=spec.name, status="not_applicable",
                reason=_not_applicable_reason(spec, missing),
            )
        usage = Usage()
        if spec.uses_judge and self.judge is None:
            return self._finish(spec, usage, started, status="error",
                                reason="no judge model configured for this metric")
        try:
            metrics = await self._ragas_metrics()
        except RuntimeError as exc:
            return self._finish(spec, usage, started, status="error", reason=str(exc))
        judge = JudgeSession(self.llm, self.judge, self.limiter, usage) if self.judge else None
        try:
            value = await metrics.compute(
                spec.name, case, judge=judge if spec.uses_judge else None,
                embeddings=self.embeddings if spec.uses_embeddings else None, usage=usage,
            )
        except JudgeOutputError as exc:
            return self._finish(spec, usage, started, status="error",
                                reason=f"judge answer unusable: {exc}")
        except EmbeddingError as exc:
            return self._finish(spec, usage, started, status="error",
                                reason=f"embedding failed: {exc}")
        except LLMError as exc:
            return self._finish(
                spec, usage, started, status="error",
                reason=f"judge call failed: {exc.kind}: {exc.message} "
                       f"(model {exc.model}, {exc.attempts} attempts)",
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - one metric's failure is its own score
            log.warning("scoring.metric_failed", metric=spec.name, error=repr(exc)[:300])
            return self._finish(spec, usage, started, status="error",
                                reason=f"{type(exc).__name__}: {exc}")
        if math.isnan(value):
            if spec.name == "faithfulness":
                return self._finish(
                    spec, usage, started, status="not_applicable",
                    reason="the judge found no statements in the answer to check",
                )
            return self._finish(spec, usage, started, status="error",
                                reason="the metric produced no value (NaN)")
        value = round(min(1.0, max(0.0, value)), 9)
        reason, details = _explain(spec.name, value, usage)
        return self._finish(spec, usage, started, status="ok", value=value, reason=reason,
                            details=details)

    def _finish(
        self, spec: MetricSpec, usage: Usage, started: float, *, status: str,
        value: float | None = None, reason: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> MetricScore:
        return MetricScore(
            metric=spec.name, value=value, status=status, reason=reason,
            judge_calls=usage.judge_calls, cached_calls=usage.cached_calls,
            prompt_tokens=usage.prompt_tokens, completion_tokens=usage.completion_tokens,
            tokens=usage.tokens, cost_usd=usage.cost_usd, embedding_calls=usage.embedding_calls,
            duration_ms=(time.perf_counter() - started) * 1000.0, engine=engine_name(),
            details=details,
        )


def _known_texts(specs: list[MetricSpec], cases: list[ScoringInput]) -> list[str]:
    """The texts the embedding metrics will embed that are known before any judge call,
    for the cases they apply to (the same strings Ragas asks for)."""
    names = {s.name for s in specs}
    texts: list[str] = []
    for case in cases:
        if ("answer_semantic_similarity" in names and case.present("answer")
                and case.present("reference")):
            # Ragas embeds empty strings as " "
            texts += [case.reference or " ", case.answer or " "]
        if "answer_relevancy" in names and case.present("question") and case.present("answer"):
            texts.append(case.question or "")
    return list(dict.fromkeys(texts))


def _explain(name: str, value: float, usage: Usage) -> tuple[str | None, dict | None]:
    """A one-line reason and the judge's structured answers, for the judge metrics."""
    if name == "faithfulness":
        verdicts = [s for out in usage.outputs_of("NLIStatementOutput")
                    for s in out.get("statements", [])]
        supported = sum(1 for s in verdicts if s.get("verdict"))
        return (f"{supported} of {len(verdicts)} statements are supported by the contexts",
                {"statements": verdicts})
    if name == "context_precision":
        judged = usage.outputs_of("ContextPrecisionOutput")
        verdicts = [int(bool(o.get("verdict"))) for o in judged]
        return (f"useful contexts by rank: {verdicts} (average precision {value:.3f})",
                {"verdicts": judged})
    if name == "answer_relevancy":
        generated = usage.outputs_of("AnswerRelevanceOutput")
        if generated and all(g.get("noncommittal") for g in generated):
            return "the answer is noncommittal", {"generated": generated}
        return (f"mean similarity of {len(generated)} question(s) generated from the answer "
                f"to the question", {"generated": generated})
    return None, None


# ---------------------------------------------------------------------- function form
_limiters: weakref.WeakKeyDictionary[LLMClient, dict[tuple[int, int], asyncio.Semaphore]] = (
    weakref.WeakKeyDictionary()
)


def judge_limiter(llm: LLMClient, max_concurrency: int = DEFAULT_JUDGE_CONCURRENCY
                  ) -> asyncio.Semaphore:
    """The judge-call limit shared by every :func:`score_case` call on ``llm`` (per
    event loop and limit)."""
    per_client = _limiters.setdefault(llm, {})
    key = (id(asyncio.get_running_loop()), max_concurrency)
    limiter = per_client.get(key)
    if limiter is None:
        limiter = per_client[key] = asyncio.Semaphore(max_concurrency)
    return limiter


async def score_case(
    case: ScoringInput | dict[str, Any],
    metrics: Sequence[str],
    *,
    llm: LLMClient,
    judge_model: str | None,
    embedding_model: str | None = None,
    judge_params: dict[str, Any] | None = None,
    embedding_params: dict[str, Any] | None = None,
    max_concurrency: int = DEFAULT_JUDGE_CONCURRENCY,
    limiter: asyncio.Semaphore | None = None,
    **options: Any,
) -> list[MetricScore]:
    """Score one case (see :class:`Scorer`; ``options`` are its other keyword
    arguments). Concurrent calls on the same ``llm`` share one judge-call limit of
    ``max_concurrency`` unless a ``limiter`` is given."""
    scorer = Scorer(
        llm, judge_model, embedding_model, judge_params=judge_params,
        embedding_params=embedding_params,
        limiter=limiter or judge_limiter(llm, max_concurrency), **options,
    )
    return await scorer.score_case(case, metrics)
