"""The Ragas engine: Ragas's test-set generator (knowledge graph, personas, query
synthesizers) driven through harness's LLM client and embeddings.

What it takes to run Ragas 0.4 offline (each found by running it against the stub):

- Ragas counts tokens with tiktoken's ``o200k_base``, which tiktoken downloads on first
  use. LiteLLM ships that file; ``TIKTOKEN_CACHE_DIR`` is pointed at LiteLLM's copy
  (unless already set) so nothing is fetched.
- Ragas's prompts call ``agenerate`` on an Instructor-style LLM that must say
  ``is_async``; the adapter here sends each prompt through :class:`JudgeSession`
  (``LLMClient``: cache, retries, tokens, cost; JSON parse with one repair request).
- Ragas's embedding extractor calls the *sync* ``embed_text`` in a thread pool unless
  the model says ``is_async``; the adapter says so, and its sync methods (other Ragas
  code may call them) wait for the embedding on the worker's loop.
- Ragas runs its own event loop, so it runs in a thread; every model and embedding call
  is handed back to the worker's loop (one concurrency limit, one HTTP client).

Ragas decides how many samples each synthesizer makes; this engine maps them onto the
planned questions by kind, trims any surplus and reports any shortfall as errors.
Kinds map to synthesizers: simple → single-hop specific, reasoning → multi-hop abstract,
multi_context → multi-hop specific. A kind Ragas cannot make from the documents'
knowledge graph (no related passages) is reported, not silently replaced.
"""

from __future__ import annotations

import asyncio
import os
from collections import defaultdict
from collections.abc import Sequence
from importlib import metadata
from importlib import util as importlib_util
from pathlib import Path
from typing import Any

import structlog

from harness.llm import LLMClient
from harness.scoring.embeddings import EmbeddingCache
from harness.scoring.judge import JudgeConfig, JudgeSession, Usage

from .cases import Outcome, QuestionAnswer
from .chunking import Chunk
from .plan import PlannedQuestion

log = structlog.get_logger(__name__)

SYNTHESIZERS = {
    "simple": "single_hop_specific_query_synthesizer",
    "reasoning": "multi_hop_abstract_query_synthesizer",
    "multi_context": "multi_hop_specific_query_synthesizer",
}
KIND_OF = {v: k for k, v in SYNTHESIZERS.items()}


def _use_bundled_tiktoken() -> None:
    if os.environ.get("TIKTOKEN_CACHE_DIR"):
        return
    spec = importlib_util.find_spec("litellm")
    if spec and spec.origin:
        folder = Path(spec.origin).parent / "litellm_core_utils" / "tokenizers"
        if folder.is_dir():
            os.environ["TIKTOKEN_CACHE_DIR"] = str(folder)


class RagasEngine:
    name = "ragas"
    plans_whole = True  # Ragas builds one knowledge graph over every passage

    def __init__(self, llm: LLMClient, model: str, *, params: dict | None = None,
                 embedding_model: str | None = None, concurrency: int = 8,
                 max_retries: int = 3, timeout_s: float = 120.0,
                 usage: Usage | None = None) -> None:
        self.llm = llm
        self.config = JudgeConfig(model=model, params=dict(params or {}),
                                  max_retries=max_retries, timeout_s=timeout_s,
                                  parse_retries=1, system_prompt=None)
        self.embeddings = EmbeddingCache(llm, embedding_model)
        self.concurrency = concurrency
        self.usage = usage if usage is not None else Usage()
        try:
            self.version: str | None = metadata.version("ragas")
        except metadata.PackageNotFoundError:
            self.version = None  # generate() reports it on every planned question

    @property
    def label(self) -> str:
        return f"ragas {self.version}" if self.version else "ragas"

    async def generate(self, items: Sequence[PlannedQuestion], chunks: Sequence[Chunk],
                       language: str) -> list[Outcome]:
        from harness.scoring import load_engine

        try:
            await load_engine()  # imports Ragas off the loop, its telemetry switched off
        except RuntimeError as exc:  # Ragas is not installed (the scorer extra)
            return [Outcome(item=i, contexts=[chunks[c] for c in i.chunks], error=str(exc))
                    for i in items]
        loop = asyncio.get_running_loop()
        limiter = asyncio.Semaphore(self.concurrency)
        wanted: dict[str, int] = defaultdict(int)
        for item in items:
            wanted[item.kind] += 1
        try:
            samples, unusable = await asyncio.to_thread(
                self._run, list(chunks), dict(wanted), language, loop, limiter)
        except Exception as exc:  # noqa: BLE001 - every planned question reports it
            log.warning("generation.ragas_failed", error=str(exc))
            message = f"Ragas test-set generation failed: {type(exc).__name__}: {exc}"
            return [Outcome(item=i, contexts=[chunks[c] for c in i.chunks], error=message)
                    for i in items]
        return _assign(items, chunks, samples, unusable)

    # ---- in Ragas's thread -----------------------------------------------------------

    def _run(self, chunks: list[Chunk], wanted: dict[str, int], language: str,
             loop: asyncio.AbstractEventLoop, limiter: asyncio.Semaphore
             ) -> tuple[list[dict[str, Any]], dict[str, str]]:
        _use_bundled_tiktoken()
        os.environ.setdefault("TQDM_DISABLE", "1")  # Ragas's progress bars, not in logs
        from ragas.run_config import RunConfig
        from ragas.testset import TestsetGenerator
        from ragas.testset.graph import KnowledgeGraph, Node, NodeType
        from ragas.testset.synthesizers import (
            MultiHopAbstractQuerySynthesizer,
            MultiHopSpecificQuerySynthesizer,
            SingleHopSpecificQuerySynthesizer,
        )
        from ragas.testset.transforms import apply_transforms, default_transforms_for_prechunked

        llm = _loop_llm(JudgeSession(self.llm, self.config, limiter, self.usage), loop)
        embeddings = _loop_embeddings(self.embeddings, self.usage, loop)
        context = f"Write every question and every answer in {language}."
        run_config = RunConfig(max_workers=self.concurrency, timeout=int(self.config.timeout_s))
        kg = KnowledgeGraph(nodes=[
            Node(type=NodeType.CHUNK, properties={"page_content": c.text,
                                                  "document_metadata": c.source})
            for c in chunks])
        apply_transforms(kg, default_transforms_for_prechunked(llm, embeddings), run_config)

        classes = {"simple": SingleHopSpecificQuerySynthesizer,
                   "reasoning": MultiHopAbstractQuerySynthesizer,
                   "multi_context": MultiHopSpecificQuerySynthesizer}
        distribution, unusable = [], {}
        total = sum(wanted.values())
        for kind, count in wanted.items():
            synthesizer = classes[kind](llm=llm, llm_context=context)
            try:
                usable = bool(synthesizer.get_node_clusters(kg))
                reason = "no passages related enough to combine"
            except Exception as exc:  # noqa: BLE001 - Ragas raises when it finds none
                usable, reason = False, str(exc)
            if usable:
                distribution.append((synthesizer, count / total))
            else:
                unusable[kind] = reason
        if not distribution:
            return [], unusable
        size = sum(wanted[KIND_OF[s.name]] for s, _ in distribution)
        norm = sum(w for _, w in distribution)
        generator = TestsetGenerator(llm=llm, embedding_model=embeddings, llm_context=context,
                                     knowledge_graph=kg)
        testset = generator.generate(
            testset_size=size, query_distribution=[(s, w / norm) for s, w in distribution],
            run_config=run_config, raise_exceptions=True)
        samples = []
        for s in testset.samples:
            e = s.eval_sample
            samples.append({
                "kind": KIND_OF.get(s.synthesizer_name, "simple"),
                "question": e.user_input, "answer": e.reference,
                "contexts": list(e.reference_contexts or []),
                "extra": {k: v for k, v in {
                    "synthesizer": s.synthesizer_name, "persona": e.persona_name,
                    "query_style": e.query_style, "query_length": e.query_length,
                }.items() if v},
            })
        return samples, unusable


def _assign(items: Sequence[PlannedQuestion], chunks: Sequence[Chunk],
            samples: list[dict[str, Any]], unusable: dict[str, str]) -> list[Outcome]:
    """Give each planned question a sample of its kind, else a surplus sample of another
    kind (its metadata says which), else an error saying why there is none."""
    by_text = {c.text: c for c in chunks}
    pools: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for s in samples:
        pools[s["kind"]].append(s)
    wanted: dict[str, int] = defaultdict(int)
    for item in items:
        wanted[item.kind] += 1
    surplus = [s for kind, pool in pools.items() for s in pool[wanted.get(kind, 0):]]
    outcomes = []
    for item in items:
        pool = pools[item.kind]
        sample = pool.pop(0) if pool else (surplus.pop(0) if surplus else None)
        planned = [chunks[c] for c in item.chunks]
        if sample is None:
            why = unusable.get(item.kind, "Ragas made fewer questions than planned")
            outcomes.append(Outcome(item=item, contexts=planned,
                                    error=f"no {item.kind} question from Ragas: {why}"))
            continue
        contexts = [by_text.get(t) or Chunk("(unknown)", -1, t) for t in sample["contexts"]]
        try:
            qa = QuestionAnswer(question=sample["question"] or "", answer=sample["answer"] or "")
        except ValueError as exc:
            outcomes.append(Outcome(item=item, contexts=contexts or planned,
                                    error=f"Ragas gave an unusable sample: {exc}"))
            continue
        outcomes.append(Outcome(item=item, contexts=contexts or planned, qa=qa,
                                kind=sample["kind"], extra=sample["extra"]))
    return outcomes


def _loop_llm(session: JudgeSession, loop: asyncio.AbstractEventLoop):
    from ragas.llms.base import InstructorBaseRagasLLM

    class LoopLLM(InstructorBaseRagasLLM):
        """Ragas's structured-output LLM; each call runs on the worker's loop."""

        is_async = True

        def generate(self, prompt: str, response_model: Any) -> Any:
            return asyncio.run_coroutine_threadsafe(
                session.generate(prompt, response_model), loop).result()

        async def agenerate(self, prompt: str, response_model: Any) -> Any:
            return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(
                session.generate(prompt, response_model), loop))

    return LoopLLM()


def _loop_embeddings(cache: EmbeddingCache, usage: Usage, loop: asyncio.AbstractEventLoop):
    from ragas.embeddings.base import BaseRagasEmbedding

    class LoopEmbeddings(BaseRagasEmbedding):
        """Ragas's embeddings; sync calls (from Ragas's thread pool) wait for the loop."""

        is_async = True

        def __init__(self) -> None:
            super().__init__(cache=None)

        def embed_texts(self, texts: list[str], **kwargs: Any) -> list[list[float]]:
            return asyncio.run_coroutine_threadsafe(cache.embed(list(texts), usage),
                                                    loop).result()

        def embed_text(self, text: str, **kwargs: Any) -> list[float]:
            return self.embed_texts([text])[0]

        async def aembed_texts(self, texts: list[str], **kwargs: Any) -> list[list[float]]:
            return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(
                cache.embed(list(texts), usage), loop))

        async def aembed_text(self, text: str, **kwargs: Any) -> list[float]:
            return (await self.aembed_texts([text]))[0]

    return LoopEmbeddings()
