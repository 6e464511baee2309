"""Metric computation for evaluation runs (Ragas metrics), independent of the service.

    from harness.scoring import ScoringInput, score_case
    scores = await score_case(
        ScoringInput(question=q, answer=a, contexts=passages, reference=ref),
        ["faithfulness", "answer_relevancy", "bleu"],
        llm=LLMClient(), judge_model="openai/gpt-4o-mini",
    )

Every metric is computed by Ragas's own metric class (the ``ragas`` package, imported
lazily and off the event loop). The judge and the embeddings Ragas sees are adapters
over :class:`harness.llm.LLMClient`, so judge calls are cached, retried, limited and
accounted like every other model call, and embeddings default to the bundled offline
model. A case that lacks what a metric needs gets status "not_applicable" naming the
missing field, never a 0; a judge failure or an unusable judge answer is "error".
"""

from .judge import JudgeConfig, JudgeOutputError, parse_structured
from .models import MetricScore, MetricSpec, ScoreStatus, ScoringInput
from .registry import (
    LLM_METRICS,
    METRICS,
    NON_LLM_METRICS,
    UnknownMetricError,
    resolve_metric,
    resolve_metrics,
)
from .scorer import (
    DEFAULT_JUDGE_CONCURRENCY,
    Scorer,
    engine_name,
    judge_limiter,
    load_engine,
    missing_fields,
    score_case,
)

__all__ = [
    "DEFAULT_JUDGE_CONCURRENCY",
    "LLM_METRICS",
    "METRICS",
    "NON_LLM_METRICS",
    "JudgeConfig",
    "JudgeOutputError",
    "MetricScore",
    "MetricSpec",
    "ScoreStatus",
    "Scorer",
    "ScoringInput",
    "UnknownMetricError",
    "engine_name",
    "judge_limiter",
    "load_engine",
    "missing_fields",
    "parse_structured",
    "resolve_metric",
    "resolve_metrics",
    "score_case",
]
