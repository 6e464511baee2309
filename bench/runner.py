"""Runner benchmark: 2,000 cases against the loopback stub LLM (fixed 100 ms latency) at
concurrency 50, through the whole local pipeline (POST /runs → RunRequested → runner →
LiteLLM → stub → assertions → CaseResultRecorded ingested → RunCompleted).

Prints JSON. ``wall_over_ideal`` = measured wall time ÷ (cases × latency / concurrency),
goal ≤ 1.25, with one runner process. ``speedup_workers``: the same run's wall with one
runner process ÷ with ``--workers`` (default one per core: the run's shards in child
processes, ``harness up``'s default), goal ≥ 1.7 on 2 cores; ``load_average`` says how
busy the machine was. Each side first runs a warm-up run on the same stack
(``speedup_workers_pipeline``); ``speedup_workers`` is the same for ``harness eval``
on the same cases as a promptfoo config (``eval_wall_s`` with ``--workers 1`` ÷
``eval_workers_wall_s``), and ``vs_promptfoo`` = ``harness eval`` with the default
workers ÷ promptfoo 0.123.1 (``-j N --no-write --no-table``) on that config, goal ≤ 0.6.
``cpu_ms_per_case`` is the CPU time of this process (registry + runner in one
process, as ``harness up`` runs them) per case; the stub runs in another process.

``cpu_ms_per_call`` / ``litellm_cpu_ms_per_call``: process CPU time per call of harness's
``LLMClient.complete`` and of bare ``litellm.acompletion`` against the same stub in this
process, in alternating rounds (``--rounds``, ``--calls`` each; the lowest round of each
side, the least disturbed by other processes on the machine); ``cpu_per_call_ratio`` is
ours ÷ LiteLLM's, goal ≤ 1.1. ``--calls-only`` measures just these.

The eval commands run ``--eval-repeats`` times each (default 3), the three sides
alternating; the walls are medians (``eval_walls_s`` / ``promptfoo_walls_s`` list every
run: on a 2-core virtual machine one command's wall varies by ±20 % from run to run).
``--eval-only`` measures just these.

Usage: python bench/runner.py [--cases 2000] [--latency 0.1] [--concurrency 50]
                              [--calls 1000] [--rounds 3] [--calls-only] [--eval-only]
                              [--eval-repeats 3]
Database: HARNESS_BENCH_DATABASE_URL, else HARNESS_TEST_DATABASE_URL, else embedded.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _db import scratch_database  # noqa: E402
from _stub import start_stub  # noqa: E402


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=2000)
    ap.add_argument("--latency", type=float, default=0.1)
    ap.add_argument("--concurrency", type=int, default=50)
    ap.add_argument("--model", default="openai/bench-model",
                    help='"echo" measures harness alone (no LiteLLM, no network)')
    ap.add_argument("--calls", type=int, default=1000, help="calls per per-call round")
    ap.add_argument("--rounds", type=int, default=3, help="per-call rounds of each side")
    ap.add_argument("--eval-repeats", type=int, default=3,
                    help="times each eval command runs (alternating; medians reported)")
    ap.add_argument("--eval-only", action="store_true",
                    help="measure only harness eval (1 and N workers) against promptfoo")
    ap.add_argument("--calls-only", action="store_true",
                    help="measure only CPU per call (LLMClient vs bare litellm.acompletion)")
    ap.add_argument("--workers", type=int, default=0,
                    help="runner processes of the second pipeline run (default: one per "
                         "core); speedup_workers = wall with 1 ÷ wall with these")
    args = ap.parse_args()
    os.environ.setdefault("OPENAI_API_KEY", "sk-bench")

    from harness.logging import configure_logging

    configure_logging("WARNING")  # on stderr: stdout is the JSON result

    if args.eval_only:
        workers = args.workers or os.cpu_count() or 1
        print(json.dumps({"benchmark": "runner", "machine": _machine(), "cases": args.cases,
                          "latency_s": args.latency, "concurrency": args.concurrency,
                          "workers": workers, **_eval_vs_promptfoo(args, workers),
                          "load_average": os.getloadavg()}, indent=2))
        return
    stub, base_url = start_stub(args.latency)
    if args.calls_only:
        try:
            per_call = await _per_call(base_url, args)
        finally:
            stub.terminate()
        print(json.dumps({"benchmark": "runner", "machine": _machine(),
                          "latency_s": args.latency, "concurrency": args.concurrency,
                          **per_call}, indent=2))
        return

    # the stack's child runner processes read the endpoint from the environment
    os.environ["HARNESS_LLM_DEPLOYMENTS"] = json.dumps({"*": {"api_base": base_url}})
    workers = args.workers or os.cpu_count() or 1
    one = await _pipeline(base_url, args, workers=1)
    many = await _pipeline(base_url, args, workers=workers) if workers > 1 else one
    wall, cpu, state = one["wall_s"], one["cpu_s"], one["state"]
    ideal = args.cases * args.latency / args.concurrency
    try:
        baselines = await _baselines(base_url, args) if args.model != "echo" else {}
        per_call = await _per_call(base_url, args) if args.model != "echo" else {}
    finally:
        stub.terminate()
    print(json.dumps({
        "benchmark": "runner",
        "machine": _machine(),
        "cases": args.cases, "model": args.model, "latency_s": args.latency,
        "concurrency": args.concurrency,
        "status": state["status"], "recorded": state["recorded"], "passed": state["passed"],
        "wall_s": wall, "ideal_s": ideal, "wall_over_ideal": wall / ideal,
        "cpu_s": cpu, "cpu_ms_per_case": cpu / args.cases * 1000,
        "workers": workers,
        "workers_wall_s": many["wall_s"], "workers_wall_over_ideal": many["wall_s"] / ideal,
        "workers_status": many["state"]["status"], "workers_recorded": many["state"]["recorded"],
        "speedup_workers_pipeline": wall / many["wall_s"],
        **(_eval_vs_promptfoo(args, workers) if args.model != "echo" else {}),
        "load_average": os.getloadavg(),
        "baselines": baselines,
        **per_call,
        "goal": {"wall_over_ideal": "<= 1.25", "cpu_per_call_ratio": "<= 1.1",
                 "speedup_workers": ">= 1.7 on 2 cores", "vs_promptfoo": "<= 0.6"},
    }, indent=2))


def _eval_config(folder: Path, base_url: str, args) -> Path:
    """The bench's cases as a promptfoo config on the stub (both tools read it)."""
    import yaml

    config = {
        "description": "runner bench",
        "prompts": ["Question {{i}}: {{q}}"],
        "providers": [{"id": "openai:chat:bench-model", "config": {
            "apiBaseUrl": base_url, "apiKey": "sk-bench", "temperature": 0.7}}],
        "tests": [{"vars": {"i": i, "q": f"what is {i} squared?"},
                   "assert": [{"type": "contains", "value": f"Question {i}"},
                              {"type": "not-icontains", "value": "error"}]}
                  for i in range(args.cases)],
    }
    path = folder / "promptfooconfig.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def _timed(cmd: list[str], env: dict) -> tuple[float, int]:
    t0 = time.perf_counter()
    code = subprocess.run(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL).returncode
    return time.perf_counter() - t0, code


def _eval_vs_promptfoo(args, workers: int) -> dict:
    stub, base_url = start_stub(args.latency)  # a fresh one: the first served thousands
    try:
        return _eval_commands(base_url, args, workers)
    finally:
        stub.terminate()
        stub.wait()


def _eval_commands(base_url: str, args, workers: int) -> dict:
    """The same config through ``harness eval`` (1 process, then ``workers``) and through
    promptfoo 0.123.1 (``-j N --no-write --no-table``, its fastest), each a fresh command
    (start-up included), no response cache and no results table on either side."""
    from harness.promptfoo.node import installed_promptfoo

    ideal = args.cases * args.latency / args.concurrency
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "libs"), str(ROOT)]),
           "HARNESS_LOG_LEVEL": "WARNING"}
    env.pop("HARNESS_LLM_DEPLOYMENTS", None)  # the config names the endpoint
    out: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        cfg = _eval_config(Path(tmp), base_url, args)
        ours = [sys.executable, "-m", "services.cli", "eval", "-c", str(cfg), "-j",
                str(args.concurrency), "--no-cache", "--no-table"]
        promptfoo = installed_promptfoo()
        theirs_cmd = None if promptfoo is None else (
            [str(promptfoo), "eval", "-c", str(cfg), "-j", str(args.concurrency), "--no-write",
             "--no-table", "--no-cache"],
            {**env, "PROMPTFOO_DISABLE_TELEMETRY": "1", "PROMPTFOO_DISABLE_UPDATE": "1"})
        walls: dict[str, list[float]] = {"one": [], "many": [], "promptfoo": []}
        codes: dict[str, set[int]] = {"one": set(), "many": set(), "promptfoo": set()}
        # the sides alternate, each repeat once: a busy moment of the machine is spread
        # over all three instead of landing on one; medians are reported
        for _ in range(args.eval_repeats):
            for side, cmd, side_env in (("one", [*ours, "--workers", "1"], env),
                                        ("many", [*ours, "--workers", str(workers)], env),
                                        ("promptfoo", *(theirs_cmd or (None, None)))):
                if cmd is None:
                    continue
                wall, code = _timed(cmd, side_env)
                walls[side].append(round(wall, 3))
                codes[side].add(code)
        one, many = statistics.median(walls["one"]), statistics.median(walls["many"])
        out.update(eval_wall_s=one, eval_workers_wall_s=many,
                   eval_exit_codes=sorted(codes["one"] | codes["many"]),
                   eval_walls_s={"workers_1": walls["one"], f"workers_{workers}": walls["many"]},
                   wall_over_ideal_eval=many / ideal, speedup_workers=one / many)
        if theirs_cmd is None:
            out["promptfoo"] = "not installed (tools/promptfoo/install.sh)"
            return out
        theirs = statistics.median(walls["promptfoo"])
        out.update(promptfoo_wall_s=theirs, promptfoo_walls_s=walls["promptfoo"],
                   promptfoo_exit_code=sorted(codes["promptfoo"]),
                   promptfoo_wall_over_ideal=theirs / ideal, vs_promptfoo=many / theirs)
    return out


async def _pipeline(base_url: str, args, *, workers: int) -> dict:
    """One run of ``args.cases`` through the local stack with ``workers`` runner processes
    (after a warm-up run, so the processes have loaded LiteLLM), on its own database."""
    from harness.artifacts import FolderArtifactStore
    from services.bootstrap import LocalStack
    from services.registry.app import create_app

    tmp = tempfile.TemporaryDirectory()
    async with scratch_database(f"harness_bench_runner_{workers}") as db:
        stack = await LocalStack.start(db, artifacts=FolderArtifactStore(Path(tmp.name)),
                                       pool_max=10, workers=workers)
        await stack.runner.llm.warmup()
        # the model's endpoint is server configuration: a run carries LLM options only
        stack.runner.llm.deployments["*"] = {"api_base": base_url}
        app = create_app(runtime=stack.runtime)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://r", timeout=120) as c:
            p = (await c.post("/prompts", json={"name": "bench", "content": [
                {"role": "system", "content": "Answer briefly."},
                {"role": "user", "content": "Question {{ i }}: {{ q }}"}]})).json()
            target = {"prompt_id": p["id"], "model": args.model,
                      "params": {"temperature": 0.7}}

            async def run(name: str, n: int) -> dict:
                ds = (await c.post("/datasets", json={"name": name})).json()
                cases = [{"input": {"i": i, "q": f"what is {i} squared?"},
                          "assert": [{"type": "contains", "value": f"Question {i}"},
                                     {"type": "not-icontains", "value": "error"}]}
                         for i in range(n)]
                await c.post(f"/datasets/{ds['id']}/cases", json={"cases": cases})
                run = (await c.post("/runs", json={"dataset_id": ds["id"],
                                                   "targets": [target],
                                                   "concurrency": args.concurrency})).json()
                while (state := (await c.get(f"/runs/{run['id']}")).json())["status"] not in (
                        "completed", "failed", "cancelled"):
                    await asyncio.sleep(0.02)
                return state

            await run("warm-up", min(args.cases, 500 * workers))
            cpu0, t0 = time.process_time(), time.perf_counter()
            state = await run("bench", args.cases)
            wall = time.perf_counter() - t0
            cpu = time.process_time() - cpu0
        await stack.stop()
    tmp.cleanup()
    return {"wall_s": wall, "cpu_s": cpu, "state": state}


def _machine() -> dict:
    import litellm

    return {"cpus": os.cpu_count(), "python": sys.version.split()[0],
            "litellm": getattr(litellm, "__version__", None) or _version("litellm")}


def _version(name: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


async def _per_call(base_url: str, args) -> dict:
    """CPU per call of ``LLMClient.complete`` and of bare ``litellm.acompletion`` (same
    stub, model, messages and concurrency), in alternating rounds after one warm-up each,
    so load from other processes hits both sides alike."""
    from harness.llm import LLMClient, LLMRequest, _litellm

    client = LLMClient(cache=False, deployments={"*": {"api_base": base_url}})
    await client.warmup()
    lm = _litellm.litellm()
    model, messages = "openai/bench-model", [{"role": "user", "content": "hello"}]
    sem = asyncio.Semaphore(args.concurrency)

    async def ours() -> None:
        async with sem:
            await client.complete(LLMRequest(model=model, messages=messages, temperature=0.7,
                                             max_retries=0))

    async def bare() -> None:
        async with sem:
            await lm.acompletion(model=model, api_base=base_url, messages=messages,
                                 temperature=0.7, num_retries=0, max_retries=0,
                                 **{"no-log": True})

    async def cpu_ms(call, n: int) -> float:
        cpu0 = time.process_time()
        await asyncio.gather(*[call() for _ in range(n)])
        return (time.process_time() - cpu0) / n * 1000

    rounds: dict[str, list[float]] = {"ours": [], "litellm": []}
    for call in (ours, bare):
        await cpu_ms(call, min(args.calls, 200))  # warm-up: connection pool, lazy imports
    for _ in range(args.rounds):
        rounds["ours"].append(await cpu_ms(ours, args.calls))
        rounds["litellm"].append(await cpu_ms(bare, args.calls))
    ours_ms, litellm_ms = min(rounds["ours"]), min(rounds["litellm"])
    return {"cpu_ms_per_call": ours_ms, "litellm_cpu_ms_per_call": litellm_ms,
            "cpu_per_call_ratio": ours_ms / litellm_ms,
            "per_call_rounds_ms": rounds, "per_call_calls": args.calls}


async def _baselines(base_url: str, args) -> dict:
    """The same number of calls at the same concurrency against the same stub, measured in
    this run: a bare aiohttp client (the floor for any Python client here) and bare
    ``litellm.acompletion`` calls (what LiteLLM alone costs, without harness)."""
    import aiohttp

    from harness.llm import _litellm

    body = {"model": "m", "messages": [{"role": "user", "content": "hello"}]}
    sem = asyncio.Semaphore(args.concurrency)
    out = {}

    async with aiohttp.ClientSession() as session:
        async def raw() -> None:
            async with sem, session.post(base_url.rstrip("/") + "/chat/completions",
                                         json=body) as r:
                await r.read()

        cpu0, t0 = time.process_time(), time.perf_counter()
        await asyncio.gather(*[raw() for _ in range(args.cases)])
        out["raw_aiohttp"] = _figures(time.perf_counter() - t0, time.process_time() - cpu0,
                                      args)

    lm = _litellm.litellm()

    async def via_litellm() -> None:
        async with sem:
            await lm.acompletion(model="openai/bench-model", api_base=base_url,
                                 messages=body["messages"], num_retries=0, max_retries=0,
                                 **{"no-log": True})

    cpu0, t0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*[via_litellm() for _ in range(args.cases)])
    out["litellm_only"] = _figures(time.perf_counter() - t0, time.process_time() - cpu0, args)
    return out


def _figures(wall: float, cpu: float, args) -> dict:
    ideal = args.cases * args.latency / args.concurrency
    return {"wall_s": wall, "wall_over_ideal": wall / ideal,
            "cpu_ms_per_call": cpu / args.cases * 1000}


if __name__ == "__main__":
    asyncio.run(main())
