"""The metric registry: names, what each needs, and which Ragas metric computes it."""

from __future__ import annotations

from .models import MetricSpec

_SPECS = [
    MetricSpec(
        name="faithfulness",
        description="share of the answer's statements that the retrieved contexts support "
                    "(judge: split into statements, then a verdict per statement)",
        requires=("question", "answer", "contexts"),
        uses_judge=True,
        ragas_metric="Faithfulness",
    ),
    MetricSpec(
        name="context_precision",
        description="average precision of the retrieved contexts, each judged useful or "
                    "not for arriving at the reference answer (rank-aware)",
        requires=("question", "reference", "contexts"),
        uses_judge=True,
        ragas_metric="ContextPrecisionWithReference",
        aliases=("context_precision_with_reference", "llm_context_precision_with_reference"),
    ),
    MetricSpec(
        name="answer_relevancy",
        description="mean cosine similarity between the question and questions the judge "
                    "generates from the answer; 0 for a noncommittal answer",
        requires=("question", "answer"),
        uses_judge=True,
        uses_embeddings=True,
        ragas_metric="AnswerRelevancy",
        aliases=("response_relevancy",),
    ),
    MetricSpec(
        name="answer_semantic_similarity",
        description="cosine similarity of the answer's and the reference's embeddings",
        requires=("answer", "reference"),
        uses_embeddings=True,
        ragas_metric="SemanticSimilarity",
        aliases=("semantic_similarity",),
    ),
    MetricSpec(
        name="string_similarity",
        description="1 - normalized Levenshtein distance between answer and reference",
        requires=("answer", "reference"),
        ragas_metric="NonLLMStringSimilarity",
        aliases=("non_llm_string_similarity",),
        blank_answer_ok=True,
    ),
    MetricSpec(
        name="bleu",
        description="sentence BLEU (sacrebleu, 0-1) of the answer against the reference",
        requires=("answer", "reference"),
        ragas_metric="BleuScore",
        aliases=("bleu_score",),
        blank_answer_ok=True,
    ),
    MetricSpec(
        name="rouge",
        description="ROUGE-L F-measure (stemmed) of the answer against the reference",
        requires=("answer", "reference"),
        ragas_metric="RougeScore",
        aliases=("rouge_score", "rouge_l"),
        blank_answer_ok=True,
    ),
    MetricSpec(
        name="exact_match",
        description="1 if the answer equals the reference exactly, else 0",
        requires=("answer", "reference"),
        ragas_metric="ExactMatch",
        blank_answer_ok=True,
    ),
    MetricSpec(
        name="string_presence",
        description="1 if the reference appears verbatim in the answer, else 0",
        requires=("answer", "reference"),
        ragas_metric="StringPresence",
        blank_answer_ok=True,
    ),
    MetricSpec(
        name="non_llm_context_precision",
        description="average precision of the retrieved contexts, a context counting as "
                    "relevant when its string similarity to some reference context >= 0.5",
        requires=("contexts", "reference_contexts"),
        ragas_metric="NonLLMContextPrecisionWithReference",
        aliases=("non_llm_context_precision_with_reference",),
    ),
    MetricSpec(
        name="non_llm_context_recall",
        description="share of reference contexts whose best string similarity to a "
                    "retrieved context is > 0.5",
        requires=("contexts", "reference_contexts"),
        ragas_metric="NonLLMContextRecall",
    ),
]

METRICS: dict[str, MetricSpec] = {spec.name: spec for spec in _SPECS}
"""Every metric the scorer computes, by name."""

_ALIASES: dict[str, str] = {
    alias: spec.name for spec in _SPECS for alias in (spec.name, *spec.aliases)
}

NON_LLM_METRICS: tuple[str, ...] = tuple(s.name for s in _SPECS if s.kind == "non_llm")
LLM_METRICS: tuple[str, ...] = tuple(s.name for s in _SPECS if s.uses_judge)


class UnknownMetricError(ValueError):
    """A metric name the registry does not know."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(
            f"unknown metric {name!r}; known metrics: {', '.join(sorted(METRICS))}"
        )


def resolve_metric(name: str) -> MetricSpec:
    """The spec for ``name`` or one of its aliases (Ragas's names, e.g. "bleu_score")."""
    key = name.strip().lower().replace("-", "_")
    try:
        return METRICS[_ALIASES[key]]
    except KeyError:
        raise UnknownMetricError(name) from None


def resolve_metrics(names: list[str]) -> list[MetricSpec]:
    """Specs for ``names`` in order, duplicates (after aliasing) dropped."""
    seen: set[str] = set()
    specs = []
    for name in names:
        spec = resolve_metric(name)
        if spec.name not in seen:
            seen.add(spec.name)
            specs.append(spec)
    return specs
