"""The Ragas engine: Ragas's own metric classes, fed by adapters over ``LLMClient``.

Importing this module imports Ragas (seconds: LangChain comes with it); the scorer does
it once, in a worker thread. Ragas's usage telemetry is switched off before the import:
harness never sends data anywhere but to the configured model providers.

Adapters (Ragas 0.4 "collections" metrics accept only these interfaces):

- :class:`HarnessRagasLLM` is an ``InstructorBaseRagasLLM``: ``agenerate(prompt,
  response_model)`` sends Ragas's prompt to the judge through ``LLMClient.complete``
  (cache, retries, fallbacks, tokens, cost) and parses the JSON answer itself; Ragas's
  own Instructor/OpenAI clients are never used.
- :class:`HarnessRagasEmbeddings` is a ``BaseRagasEmbedding`` over ``LLMClient.embed``
  (the bundled offline model by default) through a shared cache. Ragas's
  ``SemanticSimilarity`` calls the *sync* ``embed_text`` inside its async ``ascore``;
  the scorer embeds both texts beforehand, so that call is a cache read.
"""

from __future__ import annotations

import asyncio
import math
import os
import warnings
from typing import Any

os.environ["RAGAS_DO_NOT_TRACK"] = "true"  # Ragas posts usage events unless told not to

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import ragas
    from ragas.dataset_schema import SingleTurnSample
    from ragas.embeddings.base import BaseRagasEmbedding
    from ragas.llms.base import InstructorBaseRagasLLM
    from ragas.metrics import NonLLMContextPrecisionWithReference, NonLLMContextRecall
    from ragas.metrics.collections import (
        AnswerRelevancy,
        BleuScore,
        ContextPrecisionWithReference,
        ExactMatch,
        Faithfulness,
        NonLLMStringSimilarity,
        RougeScore,
        SemanticSimilarity,
        StringPresence,
    )
    from ragas.metrics.collections.context_precision.util import (
        ContextPrecisionInput,
        ContextPrecisionOutput,
    )
    from ragas.metrics.result import MetricResult

from .embeddings import EmbeddingCache
from .judge import JudgeSession, Usage
from .models import ScoringInput

VERSION: str = ragas.__version__
ENGINE = f"ragas {VERSION}"


class HarnessRagasLLM(InstructorBaseRagasLLM):
    """Ragas's structured-output LLM interface over a :class:`JudgeSession`."""

    def __init__(self, session: JudgeSession) -> None:
        self.session = session

    def generate(self, prompt: str, response_model: Any) -> Any:
        raise NotImplementedError("harness drives Ragas asynchronously (agenerate)")

    async def agenerate(self, prompt: str, response_model: Any) -> Any:
        return await self.session.generate(prompt, response_model)


class HarnessRagasEmbeddings(BaseRagasEmbedding):
    """Ragas's embeddings interface over an :class:`EmbeddingCache`."""

    def __init__(self, cache: EmbeddingCache, usage: Usage) -> None:
        super().__init__(cache=None)
        self.vectors = cache
        self.usage = usage

    def embed_text(self, text: str, **kwargs: Any) -> list[float]:
        vector = self.vectors.get(text)
        if vector is None:
            raise RuntimeError(
                "sync embedding of a text that was not embedded beforehand "
                "(harness embeds asynchronously: call prefetch() first)"
            )
        return vector

    def embed_texts(self, texts: list[str], **kwargs: Any) -> list[list[float]]:
        return [self.embed_text(t) for t in texts]

    async def prefetch(self, texts: list[str]) -> None:
        await self.vectors.embed(texts, self.usage)

    async def aembed_text(self, text: str, **kwargs: Any) -> list[float]:
        return (await self.vectors.embed([text], self.usage))[0]

    async def aembed_texts(self, texts: list[str], **kwargs: Any) -> list[list[float]]:
        return await self.vectors.embed(list(texts), self.usage)


class CachedHeadPrompt:
    """A Ragas prompt whose constant part is rendered once.

    Ragas's ``to_string`` renders the output model's JSON schema and the examples on
    every call (about half a millisecond of CPU per judge call); only the input's JSON
    changes. The first call learns what comes before and after it, the second checks
    that against Ragas's own rendering (on a mismatch Ragas renders every time), and
    later calls splice the input in."""

    def __init__(self, prompt: Any) -> None:
        self.prompt = prompt
        self._parts: tuple[str, str] | None = None
        self._checked = False
        self._disabled = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.prompt, name)

    def to_string(self, data: Any) -> str:
        if self._disabled:
            return self.prompt.to_string(data)
        body = data.model_dump_json(indent=4, exclude_none=True)
        if self._parts is not None and self._checked:
            return self._parts[0] + body + self._parts[1]
        full = self.prompt.to_string(data)
        at = full.rfind(body)
        parts = (full[:at], full[at + len(body):]) if at >= 0 else None
        if self._parts is None:
            self._parts = parts
            self._disabled = parts is None
        else:
            self._checked = True
            self._disabled = parts != self._parts
        return full


_PROMPTS: dict[type, CachedHeadPrompt] = {}
_PROMPT_ATTRIBUTES = ("prompt", "statement_generator_prompt", "nli_statement_prompt")


def with_cached_prompts(metric: Any) -> Any:
    """``metric`` with its Ragas prompts replaced by one shared :class:`CachedHeadPrompt`
    per prompt class (metrics are built per call; their default prompts are alike)."""
    for attribute in _PROMPT_ATTRIBUTES:
        prompt = getattr(metric, attribute, None)
        if prompt is not None:
            cached = _PROMPTS.get(type(prompt))
            if cached is None:
                cached = _PROMPTS[type(prompt)] = CachedHeadPrompt(prompt)
            setattr(metric, attribute, cached)
    return metric


class ConcurrentContextPrecision(ContextPrecisionWithReference):
    """Ragas's ``ContextPrecisionWithReference`` with the verdicts on every context asked
    at once (Ragas awaits them one after another): the same prompts, the same average
    precision over the verdicts in rank order. A failed verdict cancels the others."""

    async def ascore(self, user_input: str, reference: str,
                     retrieved_contexts: list[str]) -> MetricResult:
        prompts = [
            self.prompt.to_string(ContextPrecisionInput(
                question=user_input, context=context, answer=reference))
            for context in retrieved_contexts
        ]
        asked = [asyncio.ensure_future(self.llm.agenerate(p, ContextPrecisionOutput))
                 for p in prompts]
        try:
            answers = await asyncio.gather(*asked)
        except Exception:
            for task in asked:
                task.cancel()
            raise
        verdicts = [answer.verdict for answer in answers]
        return MetricResult(value=float(self._calculate_average_precision(verdicts)))


class RagasMetrics:
    """One instance per scorer: the stateless Ragas metrics built once, the judge and
    embedding metrics built per call around that call's adapters."""

    def __init__(self, strictness: int = 3) -> None:
        self.strictness = strictness
        self._string = NonLLMStringSimilarity()
        self._bleu = BleuScore()
        self._rouge = RougeScore(rouge_type="rougeL", mode="fmeasure")
        self._exact = ExactMatch()
        self._presence = StringPresence()
        self._ctx_precision = NonLLMContextPrecisionWithReference()
        self._ctx_recall = NonLLMContextRecall()

    async def compute(
        self,
        name: str,
        case: ScoringInput,
        *,
        judge: JudgeSession | None,
        embeddings: EmbeddingCache | None,
        usage: Usage,
    ) -> float:
        """The Ragas value (may be NaN) of metric ``name`` for ``case``; the caller has
        checked that the fields it needs are present."""
        answer = case.answer or ""
        reference = case.reference or ""
        if name == "faithfulness":
            assert judge is not None
            metric = with_cached_prompts(Faithfulness(llm=HarnessRagasLLM(judge)))
            result = await metric.ascore(
                user_input=case.question or "", response=answer,
                retrieved_contexts=case.passages("contexts"),
            )
        elif name == "context_precision":
            assert judge is not None
            metric = with_cached_prompts(ConcurrentContextPrecision(llm=HarnessRagasLLM(judge)))
            result = await metric.ascore(
                user_input=case.question or "", reference=reference,
                retrieved_contexts=case.passages("contexts"),
            )
        elif name == "answer_relevancy":
            assert judge is not None and embeddings is not None
            metric = with_cached_prompts(AnswerRelevancy(
                llm=HarnessRagasLLM(judge), embeddings=HarnessRagasEmbeddings(embeddings, usage),
                strictness=self.strictness,
            ))
            result = await metric.ascore(user_input=case.question or "", response=answer)
        elif name == "answer_semantic_similarity":
            assert embeddings is not None
            adapter = HarnessRagasEmbeddings(embeddings, usage)
            # Ragas embeds empty strings as " "; prefetch the texts it will ask for.
            await adapter.prefetch([reference or " ", answer or " "])
            result = await SemanticSimilarity(embeddings=adapter).ascore(
                reference=reference, response=answer
            )
        elif name == "string_similarity":
            result = await self._string.ascore(reference=reference, response=answer)
        elif name == "bleu":
            result = await self._bleu.ascore(reference=reference, response=answer)
        elif name == "rouge":
            result = await self._rouge.ascore(reference=reference, response=answer)
        elif name == "exact_match":
            result = await self._exact.ascore(reference=reference, response=answer)
        elif name == "string_presence":
            result = await self._presence.ascore(reference=reference, response=answer)
        elif name in ("non_llm_context_precision", "non_llm_context_recall"):
            sample = SingleTurnSample(
                retrieved_contexts=case.passages("contexts"),
                reference_contexts=case.passages("reference_contexts"),
            )
            metric = self._ctx_precision if name == "non_llm_context_precision" else (
                self._ctx_recall
            )
            return float(await metric.single_turn_ascore(sample))
        else:  # pragma: no cover - the registry and this table are kept in step by tests
            raise KeyError(name)
        value = result.value
        return float(value) if value is not None else math.nan
