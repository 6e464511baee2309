"""Scorer benchmark: metric throughput and judge-call concurrency.

Prints JSON with these parts (``--parts`` picks some):

- ``non_llm``: cases/s of the no-model metrics (string similarity, BLEU, ROUGE-L, exact
  match, string presence, non-LLM context precision/recall) over ``--cases`` cases,
  all metrics per case, through ``Scorer.score_cases``; baseline: the same Ragas metric
  objects called directly in a loop (``overhead_ratio`` = baseline rate ÷ harness rate).
- ``embedding``: cases/s of ``answer_semantic_similarity`` with the offline model (cold
  vector cache); baseline: ``LLMClient.embed`` of the same texts alone.
- ``judge``: every judge metric of the registry (faithfulness, context_precision,
  answer_relevancy) on ``--judge-cases`` cases (two contexts each) against the loopback stub
  (its own process) at ``--latency``, ``--concurrency`` judge calls at a time; embeddings
  from the stub too. ``judge_calls`` are the requests the stub received (cache hits are
  not calls; ``cached_calls`` counts them); ``judge_wall_over_ideal`` = wall time ÷ (judge
  calls × latency ÷ concurrency). Baseline: the very requests the scorer sent, replayed
  by ``LLMClient.complete`` alone at the same concurrency (``raw_client_wall_over_ideal``);
  ``scorer_over_raw_client`` is the scorer's own cost. On a small machine LiteLLM's CPU
  per call, not the limit, bounds both; the load average is reported with them.

  ``judge_slow_provider`` repeats it at ``--slow-latency`` (0.5 s) on 2 × concurrency
  cases, where the concurrency limit alone should set the pace.
- ``pipeline``: the scorer service path in the local stack (``--pipeline-cases`` cases, the
  non-LLM metrics): a completed run's results read from the registry, scored, and one
  ``ScoresRecorded`` per result and metric ingested into the event store and read models;
  ``scoring_s`` runs from the run's completion to its last recorded score. Baseline: the
  same inputs through ``Scorer.score_cases`` alone (``pipeline_over_core``).

Usage: python bench/scorer.py [--cases 1000] [--judge-cases 200] [--latency 0.05]
       [--concurrency 16] [--slow-latency 0.5] [--skip-embedding] [--pipeline-cases 1000]
       [--parts non_llm,embedding,judge,judge_slow_provider,pipeline]
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
import json, sys
from tests.support.stub_llm import StubLLM

def reply(body):
    prompt = body["messages"][-1]["content"]
    if "input: " not in prompt:  # not a Ragas prompt (a warm-up)
        return "ok"
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
for line in sys.stdin:
    command = line.strip()
    if command == "stats":
        answer = {"chat": len(stub.chat_requests), "embeddings": len(stub.embedding_requests),
                  "max_in_flight": stub.max_in_flight}
    elif command == "prompts":
        answer = [r.messages for r in stub.chat_requests]
    else:
        stub.reset()
        answer = {}
    print(json.dumps(answer), flush=True)
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


class StubProcess:
    """The loopback stub in its own process (its CPU off the scorer's), answering one
    command a line on stdin: ``stats`` (requests it received, most in flight at once),
    ``prompts`` (the messages of every chat request) and ``reset``."""

    def __init__(self, latency: float) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", STUB, str(latency)], cwd=ROOT,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                     env={**os.environ, "PYTHONPATH": str(ROOT)})
        self.base_url = self.proc.stdout.readline().strip()

    def ask(self, command: str):
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def make_judge_cases(count: int, prefix: str = "item") -> list[dict]:
    """Cases every judge metric applies to: two contexts, a two-sentence answer."""
    return [{"question": f"What about {prefix} {i}?",
             "answer": f"{prefix.capitalize()} {i} is fine. It was checked on day {i}.",
             "reference": f"{prefix.capitalize()} {i} is fine.",
             "contexts": [f"{prefix.capitalize()} {i} is described here.",
                          f"Day {i} was a check day."]} for i in range(count)]


async def bench_judge(cases_n: int, latency: float, concurrency: int) -> dict:
    """Every judge metric of the registry on ``cases_n`` cases, judge calls counted at the
    stub; embeddings (answer_relevancy) from the stub too, so no local model's CPU
    competes with the judge calls."""
    from harness.llm import LLMClient, LLMRequest
    from harness.scoring import LLM_METRICS, Scorer

    metrics = list(LLM_METRICS)
    stub = StubProcess(latency)
    try:
        endpoint = {"api_base": stub.base_url}
        scorer = Scorer(LLMClient(), "openai/bench-judge", "openai/bench-embed",
                        judge_params=endpoint, embedding_params=endpoint,
                        max_concurrency=concurrency)
        # imports, connection pool
        await scorer.score_cases(make_judge_cases(concurrency, "warm-up"), metrics)
        stub.ask("reset")
        cases = make_judge_cases(cases_n)
        cpu0, started = time.process_time(), time.perf_counter()
        results = await scorer.score_cases(cases, metrics)
        wall = time.perf_counter() - started
        cpu = time.process_time() - cpu0
        stats = stub.ask("stats")
        prompts = stub.ask("prompts")

        # Baseline: the very requests the scorer sent, through LLMClient alone (a fresh
        # client: an empty response cache) at the same concurrency.
        raw_llm = LLMClient()
        limiter = asyncio.Semaphore(concurrency)

        async def raw_call(messages: list[dict]) -> None:
            req = LLMRequest(model="openai/bench-judge", temperature=0.0, params=endpoint,
                             messages=messages)
            async with limiter:
                await raw_llm.complete(req)

        await asyncio.gather(*(raw_call([{"role": "user", "content": f"warm-up {i}"}])
                               for i in range(concurrency)))
        cpu0, started = time.process_time(), time.perf_counter()
        await asyncio.gather(*(raw_call(m) for m in prompts))
        raw_wall = time.perf_counter() - started
        raw_cpu = time.process_time() - cpu0
    finally:
        stub.stop()
    scores = [s for r in results for s in r]
    bad = [s for s in scores if s.status != "ok"]
    assert not bad, bad[0]
    made = stats["chat"]
    assert made == sum(s.judge_calls - s.cached_calls for s in scores) == len(prompts), stats
    ideal = made * latency / concurrency
    return {
        "metrics": metrics, "cases": cases_n, "judge_calls": made,
        "cached_calls": sum(s.cached_calls for s in scores),
        "embedding_requests": stats["embeddings"], "stub_max_in_flight": stats["max_in_flight"],
        "latency_s": latency, "concurrency": concurrency,
        "wall_s": round(wall, 3), "ideal_s": round(ideal, 3),
        "judge_wall_over_ideal": round(wall / ideal, 3),
        "raw_client_wall_s": round(raw_wall, 3),
        "raw_client_wall_over_ideal": round(raw_wall / ideal, 3),
        "scorer_over_raw_client": round(wall / raw_wall, 3),
        "cpu_ms_per_call": round(cpu / made * 1000, 2),
        "raw_client_cpu_ms_per_call": round(raw_cpu / made * 1000, 2),
        "cpus": os.cpu_count(), "loadavg_1m": round(os.getloadavg()[0], 2),
    }


async def bench_pipeline(cases: list[dict]) -> dict:
    import httpx
    from _db import scratch_database

    from harness.artifacts import FolderArtifactStore
    from harness.llm import LLMClient
    from harness.scoring import NON_LLM_METRICS, Scorer
    from services.bootstrap import LocalStack
    from services.registry.app import create_app

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


PARTS = ("non_llm", "embedding", "judge", "judge_slow_provider", "pipeline")


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=1000)
    ap.add_argument("--judge-cases", type=int, default=200)
    ap.add_argument("--latency", type=float, default=0.05)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--slow-latency", type=float, default=0.5)
    ap.add_argument("--skip-embedding", action="store_true")
    ap.add_argument("--pipeline-cases", type=int, default=1000)
    ap.add_argument("--parts", default=",".join(PARTS),
                    help=f"comma-separated, any of {', '.join(PARTS)}")
    args = ap.parse_args()
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    unknown = set(parts) - set(PARTS)
    if unknown:
        ap.error(f"unknown parts: {', '.join(sorted(unknown))}")
    if args.skip_embedding and "embedding" in parts:
        parts.remove("embedding")
    os.environ.setdefault("OPENAI_API_KEY", "sk-bench")

    from harness.logging import configure_logging

    configure_logging("WARNING")
    cases = make_cases(args.cases)
    out: dict = {"loadavg_at_start": [round(x, 2) for x in os.getloadavg()]}
    if "non_llm" in parts:
        out["non_llm"] = await bench_non_llm(cases)
    if "embedding" in parts:
        out["embedding"] = await bench_embedding(cases)
    if "judge" in parts:
        out["judge"] = await bench_judge(args.judge_cases, args.latency, args.concurrency)
    if "judge_slow_provider" in parts:
        # A slow provider: per-call CPU no longer binds, so the limit alone sets the pace.
        out["judge_slow_provider"] = await bench_judge(
            2 * args.concurrency, args.slow_latency, args.concurrency
        )
    if "pipeline" in parts:
        out["pipeline"] = await bench_pipeline(cases[:args.pipeline_cases])
    from harness.scoring import engine_name

    out["engine"] = engine_name()
    out["cpus"] = os.cpu_count()
    out["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
