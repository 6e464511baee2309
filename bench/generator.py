"""Generator benchmark: model calls per question of each engine, and the direct engine's
concurrency against the loopback stub.

Prints JSON with two parts, both over the documents of ``tests/data/generation`` cut into
chunks of ``--chunk-size`` characters:

- ``direct``: ``--questions`` questions through ``DirectEngine`` against the stub at a
  fixed ``--latency`` with ``--concurrency`` calls at a time: ``calls_per_question`` and
  ``wall_over_ideal`` = wall time ÷ (calls × latency ÷ concurrency). Baseline: the same
  prompts sent by ``LLMClient.complete`` alone at the same concurrency
  (``raw_client_wall_over_ideal``); the gap is the engine's own cost (prompt building,
  JSON validation).
- ``ragas``: ``--ragas-questions`` simple questions through ``RagasEngine`` (Ragas's
  test-set generator; the stub answers its prompts with ``tests/support/ragas_testset``,
  no latency): model calls, embedding calls, questions made, ``calls_per_question``, and
  the same count for ``direct`` on the same plan.

Usage: python bench/generator.py [--questions 200] [--latency 0.05] [--concurrency 8]
       [--ragas-questions 10] [--chunk-size 400] [--skip-ragas]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.generation import (  # noqa: E402
    DirectEngine,
    RagasEngine,
    chunk_documents,
    extract,
    plan_questions,
)
from harness.generation.direct import SYSTEM_PROMPT, question_prompt  # noqa: E402
from harness.llm import LLMClient, LLMRequest  # noqa: E402
from tests.support.generation import qa_reply  # noqa: E402
from tests.support.ragas_testset import testset_reply  # noqa: E402
from tests.support.stub_llm import StubLLM  # noqa: E402

DATA = ROOT / "tests" / "data" / "generation"


def load_chunks(chunk_size: int):
    docs = [extract("shipping.txt", "text", (DATA / "shipping.txt").read_bytes()),
            extract("handbook.pdf", "pdf", (DATA / "handbook.pdf").read_bytes()),
            extract("faq.csv", "csv", (DATA / "faq.csv").read_bytes(), text_column="answer")]
    return chunk_documents(docs, chunk_size)


async def bench_direct(args, chunks) -> dict:
    plan = plan_questions(chunks, args.questions, {"simple": 2, "reasoning": 1,
                                                   "multi_context": 1}, seed="bench")
    ideal = args.questions * args.latency / args.concurrency
    with StubLLM(latency_s=args.latency) as stub:
        stub.reply("writer", qa_reply)
        params = {"api_base": stub.base_url}
        llm = LLMClient(cache=False)
        await llm.warmup()
        engine = DirectEngine(llm, "openai/writer", params=params,
                              concurrency=args.concurrency)
        started = time.perf_counter()
        outcomes = await engine.generate(plan, chunks, "English")
        wall = time.perf_counter() - started
        made = sum(o.qa is not None for o in outcomes)
        calls = len(stub.chat_requests)

        limiter = asyncio.Semaphore(args.concurrency)

        async def raw(item):
            async with limiter:
                await llm.complete(LLMRequest(
                    model="openai/writer", params=params, temperature=0.0, messages=[
                        {"role": "system", "content": SYSTEM_PROMPT},
                        {"role": "user", "content": question_prompt(
                            item, [chunks[i] for i in item.chunks], "English")}]))

        started = time.perf_counter()
        await asyncio.gather(*[raw(item) for item in plan])
        raw_wall = time.perf_counter() - started
    return {"questions": args.questions, "made": made, "calls": calls,
            "calls_per_question": round(calls / args.questions, 3),
            "latency_s": args.latency, "concurrency": args.concurrency,
            "wall_s": round(wall, 3), "ideal_s": round(ideal, 3),
            "wall_over_ideal": round(wall / ideal, 3),
            "raw_client_wall_s": round(raw_wall, 3),
            "raw_client_wall_over_ideal": round(raw_wall / ideal, 3),
            "questions_per_s": round(args.questions / wall, 1)}


async def bench_ragas(args, chunks) -> dict:
    plan = plan_questions(chunks, args.ragas_questions, {"simple": 1.0}, seed="bench")
    with StubLLM() as stub:
        stub.reply("writer", testset_reply)
        engine = RagasEngine(LLMClient(cache=False), "openai/writer",
                             params={"api_base": stub.base_url}, concurrency=8)
        started = time.perf_counter()
        outcomes = await engine.generate(plan, chunks, "English")
        wall = time.perf_counter() - started
        calls = len(stub.chat_requests)
    made = sum(o.qa is not None for o in outcomes)
    return {"engine": engine.label, "chunks": len(chunks),
            "questions": args.ragas_questions, "made": made, "calls": calls,
            "embedding_calls": engine.usage.embedding_calls,
            "calls_per_question": round(calls / args.ragas_questions, 2),
            "direct_calls_per_question": 1.0, "wall_s": round(wall, 2),
            "errors": sorted({o.error for o in outcomes if o.error})}


async def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--questions", type=int, default=200)
    p.add_argument("--latency", type=float, default=0.05)
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--ragas-questions", type=int, default=10)
    p.add_argument("--chunk-size", type=int, default=400)
    p.add_argument("--skip-ragas", action="store_true")
    args = p.parse_args()
    os.environ.setdefault("OPENAI_API_KEY", "sk-bench")
    chunks = load_chunks(args.chunk_size)
    out = {"chunks": len(chunks), "direct": await bench_direct(args, chunks)}
    if not args.skip_ragas:
        out["ragas"] = await bench_ragas(args, chunks)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
