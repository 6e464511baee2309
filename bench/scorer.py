"""Scorer benchmark: metric throughput and judge-call concurrency.

Prints JSON with three parts:

- ``non_llm``: cases/s of the no-model metrics (string similarity, BLEU, ROUGE-L, exact
  match, string presence, non-LLM context precision/recall) over ``--cases`` cases,
  all metrics per case, through ``Scorer.score_cases``; baseline: the same Ragas metric
  objects called directly in a loop (``overhead_ratio`` = baseline rate ÷ harness rate).
- ``embedding``: cases/s of ``answer_semantic_similarity`` with the offline model (cold
  vector cache); baseline: ``LLMClient.embed`` of the same texts alone.
- ``judge``: ``context_precision`` with one context per case (one judge call per case)
  against the loopback stub at a fixed latency, ``--concurrency`` calls at a time;
  ``judge_wall_over_ideal`` = wall time ÷ (calls × latency ÷ concurrency). Baseline: the
  same prompts sent by ``LLMClient.complete`` alone at the same concurrency
  (``raw_client_wall_over_ideal``); the gap between the two is the scorer's own cost.
  On a small machine LiteLLM's CPU per call, not the limit, bounds both.

  ``judge_slow_provider`` repeats it at ``--slow-latency`` (0.5 s), where the
  concurrency limit alone should set the pace.
- ``pipeline``: the scorer service path in the local stack (``--pipeline-cases`` cases, the
  non-LLM metrics): a completed run's results read from the registry, scored, and one
  ``ScoresRecorded`` per result and metric ingested into the event store and read models;
  ``scoring_s`` runs from the run's completion to its last recorded score. Baseline: the
  same inputs through ``Scorer.score_cases`` alone (``pipeline_over_core``).

Usage: python bench/scorer.py [--cases 1000] [--judge-calls 320] [--latency 0.05]
       [--concurrency 16] [--slow-latency 0.5] [--skip-embedding] [--pipeline-cases 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

STUB = """
import json, sys, time
from tests.support.stub_llm import StubLLM

def reply(body):
    prompt = body["messages"][-1]["content"]
    data, _ = json.JSONDecoder().raw_decode(prompt.rsplit("input: ", 1)[1])
    if set(data) == {"question", "answer"}:
        return json.dumps({"statements": [data["answer"]]})
    if "statements" in data:
        return json.dumps({"statements": [
            {"statement": s, "reason": "ok", "verdict": 1} for s in data["statements"]]})
    if "context" in data:
        return json.dumps({"reason": "ok", "verdict": 1})
    return json.dumps({"question": "What is it?", "noncommittal": 0})

stub = StubLLM(latency_s=float(sys.argv[1]), default_reply=reply).start()
print(stub.base_url, flush=True)
while True:
    time.sleep(3600)
"""

WORDS = (
    "the a river city capital museum train model answer question report market energy "
    "policy data garden winter summer doctor patient school teacher bridge harbor north "
    "south east west quickly slowly grows falls opens closes built founded near far".split()
)


def _sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."


def make_cases(count: int, seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    cases = []
    for i in range(count):
        reference = _sentence(rng, rng.randint(8, 20))
        words = reference.rstrip(".").split()
        # an answer that shares part of the reference: a few words swapped
        for _ in range(rng.randint(0, 4)):
            words[rng.randrange(len(words))] = rng.choice(WORDS)
        answer = " ".join(words) + "."
        refs = [_sentence(rng, rng.randint(10, 25)) for _ in range(2)]
        retrieved = [refs[0], _sentence(rng, 15), refs[1] if i % 2 else _sentence(rng, 12)]
        cases.append({
            "question": f"Question {i}: {_sentence(rng, 6)}",
            "answer": answer, "reference": reference,
            "contexts": retrieved, "reference_contexts": refs,
        })
    return cases


async def bench_non_llm(cases: list[dict], rounds: int = 3) -> dict:
    from harness.llm import LLMClient
    from harness.scoring import NON_LLM_METRICS, Scorer, ScoringInput
    from harness.scoring._ragas import SingleTurnSample

    scorer = Scorer(LLMClient(), None)
    metrics = list(NON_LLM_METRICS)
    await scorer.score_cases(cases[:20], metrics)  # import Ragas, build the metrics

    # Baseline: the same Ragas metric objects, called directly with no harness around them.
    rm = scorer._metrics
    parsed = [ScoringInput.model_validate(c) for c in cases]

    async def direct() -> None:
        for c in parsed:
            for m in (rm._string, rm._bleu, rm._rouge, rm._exact, rm._presence):
                await m.ascore(reference=c.reference, response=c.answer)
            sample = SingleTurnSample(retrieved_contexts=c.contexts,
                                      reference_contexts=c.reference_contexts)
            await rm._ctx_precision.single_turn_ascore(sample)
            await rm._ctx_recall.single_turn_ascore(sample)

    wall = base = math.inf
    for _ in range(rounds):  # interleaved, best of each: the machine may be shared
        started = time.perf_counter()
        results = await scorer.score_cases(cases, metrics)
        wall = min(wall, time.perf_counter() - started)
        assert all(s.status == "ok" for r in results for s in r), "a non-LLM metric failed"
        started = time.perf_counter()
        await direct()
        base = min(base, time.perf_counter() - started)

    per_metric = {}
    for name in metrics:
        t0 = time.perf_counter()
        await scorer.score_cases(cases, [name])
        per_metric[name] = round(len(cases) / (time.perf_counter() - t0), 1)
    return {
        "cases": len(cases), "metrics": metrics, "rounds": rounds,
        "cases_per_s": round(len(cases) / wall, 1),
        "ragas_direct_cases_per_s": round(len(cases) / base, 1),
        "overhead_ratio": round(wall / base, 3),
        "per_metric_cases_per_s": per_metric,
    }


async def bench_embedding(cases: list[dict]) -> dict:
    from harness.llm import LLMClient
    from harness.scoring import Scorer

    llm = LLMClient()
    await llm.warmup(local_embeddings=True)
    await Scorer(llm, None).score_cases(cases[:8], ["answer_semantic_similarity"])
    warm = [f"warm-up {t}" for c in cases[:256] for t in (c["reference"], c["answer"])]
    for i in range(0, len(warm), 256):  # torch's first large batches are slower
        await llm.embed(warm[i:i + 256])

    texts = list(dict.fromkeys(t for c in cases for t in (c["reference"], c["answer"])))
    started = time.perf_counter()
    for i in range(0, len(texts), 256):
        await llm.embed(texts[i:i + 256])
    base = time.perf_counter() - started

    scorer = Scorer(llm, None)  # a cold vector cache
    started = time.perf_counter()
    results = await scorer.score_cases(cases, ["answer_semantic_similarity"])
    wall = time.perf_counter() - started
    assert all(r[0].status == "ok" for r in results), results[0]
    return {
        "cases": len(cases), "metric": "answer_semantic_similarity", "model": "local",
        "cases_per_s": round(len(cases) / wall, 1),
        "embed_only_cases_per_s": round(len(cases) / base, 1),
        "overhead_ratio": round(wall / base, 3),
    }


async def bench_judge(calls: int, latency: float, concurrency: int) -> dict:
    from harness.llm import LLMClient
    from harness.scoring import Scorer

    stub = subprocess.Popen([sys.executable, "-c", STUB, str(latency)], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        base_url = stub.stdout.readline().strip()
        llm = LLMClient()
        scorer = Scorer(llm, "openai/bench-judge", judge_params={"api_base": base_url},
                        max_concurrency=concurrency)
        warm = [{"question": f"warm {i}", "reference": "r", "contexts": ["c"]}
                for i in range(concurrency)]
        await scorer.score_cases(warm, ["context_precision"])  # imports, connection pool

        cases = [{"question": f"What about item {i}?", "reference": f"Item {i} is fine.",
                  "contexts": [f"Item {i} is described here."]} for i in range(calls)]
        cpu0, started = time.process_time(), time.perf_counter()
        results = await scorer.score_cases(cases, ["context_precision"])
        wall = time.perf_counter() - started
        cpu = time.process_time() - cpu0

        # Baseline: the very prompts the scorer sent (other items), through LLMClient alone.
        from ragas.metrics.collections.context_precision.util import (
            ContextPrecisionInput,
            ContextPrecisionPrompt,
        )

        from harness.llm import LLMRequest
        from harness.scoring.judge import JUDGE_SYSTEM_PROMPT

        prompt = ContextPrecisionPrompt()
        limiter = asyncio.Semaphore(concurrency)
        raw_llm = LLMClient()

        async def raw_call(i: int) -> None:
            text = prompt.to_string(ContextPrecisionInput(
                question=f"What about thing {i}?", context=f"Thing {i} is described here.",
                answer=f"Thing {i} is fine."))
            req = LLMRequest(model="openai/bench-judge", temperature=0.0,
                             params={"api_base": base_url},
                             messages=[{"role": "system", "content": JUDGE_SYSTEM_PROMPT},
                                       {"role": "user", "content": text}])
            async with limiter:
                await raw_llm.complete(req)

        await asyncio.gather(*(raw_call(-1 - i) for i in range(concurrency)))
        cpu0, started = time.process_time(), time.perf_counter()
        await asyncio.gather(*(raw_call(i) for i in range(calls)))
        raw_wall = time.perf_counter() - started
        raw_cpu = time.process_time() - cpu0
    finally:
        stub.terminate()
        stub.wait(timeout=10)
    made = sum(r[0].judge_calls - r[0].cached_calls for r in results)
    assert all(r[0].status == "ok" for r in results), results[0]
    ideal = made * latency / concurrency
    return {
        "metric": "context_precision", "judge_calls": made, "latency_s": latency,
        "concurrency": concurrency, "wall_s": round(wall, 3), "ideal_s": round(ideal, 3),
        "judge_wall_over_ideal": round(wall / ideal, 3),
        "raw_client_wall_s": round(raw_wall, 3),
        "raw_client_wall_over_ideal": round(raw_wall / ideal, 3),
        "scorer_over_raw_client": round(wall / raw_wall, 3),
        "cpu_ms_per_call": round(cpu / made * 1000, 2),
        "raw_client_cpu_ms_per_call": round(raw_cpu / calls * 1000, 2),
        "cpus": os.cpu_count(),
    }


async def bench_pipeline(cases: list[dict]) -> dict:
    import httpx
    from _db import scratch_database

    from harness.artifacts import FolderArtifactStore
    from harness.llm import LLMClient
    from harness.scoring import NON_LLM_METRICS, Scorer
    from services.registry.app import create_app
    from services.stack import LocalStack

    metrics = list(NON_LLM_METRICS)
    core = Scorer(LLMClient(), None)
    await core.score_cases(cases[:20], metrics)  # import Ragas, build the metrics
    started = time.perf_counter()
    await core.score_cases(cases, metrics)
    core_s = time.perf_counter() - started

    async with scratch_database("bench_scorer") as url:
        with tempfile.TemporaryDirectory() as tmp:
            stack = await LocalStack.start(url, artifacts=FolderArtifactStore(Path(tmp)))
            try:
                app = create_app(runtime=stack.runtime)
                async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                             base_url="http://bench", timeout=60) as c:
                    p = (await c.post("/prompts", json={"name": "bench",
                                                        "content": "{{ answer }}"})).json()
                    ds = (await c.post("/datasets", json={"name": "bench"})).json()
                    (await c.post(f"/datasets/{ds['id']}/cases", json={"cases": [
                        {"input": {k: v for k, v in case.items() if k != "reference"},
                         "expected_output": case["reference"]} for case in cases]})
                     ).raise_for_status()
                    run = (await c.post("/runs", json={
                        "dataset_id": ds["id"], "metrics": metrics, "concurrency": 32,
                        "targets": [{"prompt_id": p["id"], "model": "echo"}]})).json()
                    while True:
                        state = (await c.get(f"/runs/{run['id']}")).json()
                        if state["phase"] == "completed":
                            break
                        await asyncio.sleep(0.2)
                row = await stack.runtime.pool.fetchrow(
                    "SELECT max(s.recorded_at) - r.finished_at AS took, count(*) AS n, "
                    "count(*) FILTER (WHERE s.status = 'ok') AS ok FROM run_scores s "
                    "JOIN runs r ON r.id = s.run_id WHERE s.run_id = $1 "
                    "GROUP BY r.finished_at", run["id"])
            finally:
                await stack.stop()
    assert row["ok"] == row["n"] == len(cases) * len(metrics), dict(row)
    scoring_s = row["took"].total_seconds()
    return {
        "cases": len(cases), "metrics": len(metrics), "scores": row["n"],
        "scoring_s": round(scoring_s, 3), "core_s": round(core_s, 3),
        "scores_per_s": round(row["n"] / scoring_s, 1),
        "pipeline_over_core": round(scoring_s / core_s, 3),
    }


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=1000)
    ap.add_argument("--judge-calls", type=int, default=320)
    ap.add_argument("--latency", type=float, default=0.05)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--slow-latency", type=float, default=0.5)
    ap.add_argument("--skip-embedding", action="store_true")
    ap.add_argument("--pipeline-cases", type=int, default=1000)
    args = ap.parse_args()
    os.environ.setdefault("OPENAI_API_KEY", "sk-bench")

    from harness.logging import configure_logging

    configure_logging("WARNING")
    cases = make_cases(args.cases)
    out: dict = {"non_llm": await bench_non_llm(cases)}
    if not args.skip_embedding:
        out["embedding"] = await bench_embedding(cases)
    out["judge"] = await bench_judge(args.judge_calls, args.latency, args.concurrency)
    # A slow provider: per-call CPU no longer binds, so the limit alone sets the pace.
    out["judge_slow_provider"] = await bench_judge(
        6 * args.concurrency, args.slow_latency, args.concurrency
    )
    out["pipeline"] = await bench_pipeline(cases[:args.pipeline_cases])
    from harness.scoring import engine_name

    out["engine"] = engine_name()
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
