"""Studio benchmark: do the pages stay responsive on big prompts and runs?

Seeds a registry (on a scratch database) with a prompt of ``--versions`` versions and a run
of ``--results`` results (``--cases`` cases × two targets, recorded through
``POST /runs/import``), then times a full script run of each page's main view under
Streamlit's AppTest — every REST call the page makes, the shaping, and the element tree:

- ``prompt_versions``: the Prompts page on that prompt (version table, content, diff
  against the active version, editor, history);
- ``run_results``: the Runs page on that run (summary, first page of results with badges,
  case detail);
- ``run_pivot``: the Compare page on that run (pivot of version × model over every result).

Baseline, measured in the same run: the bare REST calls the view is built from, made with
httpx (``rest_s``); ``ratio`` = page time ÷ that. The target is a page under 2 s
(``under_2s``). Times are medians of ``--repeat`` runs after one warm-up.

Usage: python bench/studio.py [--versions 200] [--cases 2500] [--repeat 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from bench._db import scratch_database  # noqa: E402

SCREENS = ROOT / "services" / "studio" / "screens"
TARGET_S = 2.0


def seed(client: httpx.Client, versions: int, cases: int) -> tuple[str, str]:
    p = client.post("/prompts", json={"name": "big-prompt", "content": [
        {"role": "system", "content": "You support {{ product }}."},
        {"role": "user", "content": "{{ question }} (v1)"}]}).raise_for_status().json()
    for n in range(2, versions + 1):
        client.post(f"/prompts/{p['id']}/versions", json={
            "content": [{"role": "system", "content": f"You support {{{{ product }}}}. #{n}"},
                        {"role": "user", "content": f"{{{{ question }}}} (v{n})"}],
            "change_note": f"revision {n}"}).raise_for_status()
    ds = client.post("/datasets", json={"name": "big-dataset"}).raise_for_status().json()
    client.post(f"/datasets/{ds['id']}/cases", json={"cases": [
        {"input": {"product": "harness", "question": f"question {i}?"}}
        for i in range(cases)]}).raise_for_status()
    case_ids = []
    offset = 0
    while offset < cases:
        page = client.get(f"/datasets/{ds['id']}/cases",
                          params={"limit": 500, "offset": offset}).json()["items"]
        case_ids += [c["id"] for c in page]
        offset += len(page)
    targets = [{"target_id": f"t{i}", "label": f"big-prompt v{v} · echo", "prompt_id": p["id"],
                "prompt_name": "big-prompt", "prompt_version": v, "content": "x",
                "model": "echo"} for i, v in enumerate((1, versions))]
    results = []
    for i, case_id in enumerate(case_ids):
        for t in targets:
            ok = (i + int(t["target_id"][1:])) % 5 != 0
            results.append({
                "run_id": "", "case_id": case_id, "target_id": t["target_id"],
                "status": "pass" if ok else "fail", "score": 1.0 if ok else 0.0,
                "reason": "All assertions passed" if ok else "Expected output to contain 'x'",
                "output": f"answer {i} " * 20, "rendered_prompt": f"question {i}?",
                "assertions": [{"type": "icontains", "passed": ok, "score": float(ok),
                                "reason": "ok" if ok else "missing x", "weight": 1.0}],
                "latency_ms": 100.0 + i % 50, "prompt_tokens": 20, "completion_tokens": 40,
                "total_tokens": 60, "cost_usd": 0.0001, "model": "echo"})
    run = client.post("/runs/import", json={"dataset_id": ds["id"], "targets": targets,
                                            "results": results, "source": "bench"},
                      timeout=300).raise_for_status().json()
    return p["id"], run["id"]


def median_time(fn, repeat: int) -> float:
    fn()  # warm-up: imports, caches, connections
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def page_runner(name: str, **query: str):
    from streamlit.testing.v1 import AppTest

    def run() -> None:
        at = AppTest.from_file(str(SCREENS / f"{name}.py"), default_timeout=120)
        for k, v in query.items():
            at.query_params[k] = v
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        assert not at.error, [e.value for e in at.error]

    return run


def measure(url: str, prompt_id: str, run_id: str, repeat: int) -> dict:
    client = httpx.Client(base_url=url, timeout=120)

    def rest_prompt() -> None:
        client.get("/prompts", params={"limit": 500}).raise_for_status()
        client.get(f"/prompts/{prompt_id}/versions", params={"limit": 500}).raise_for_status()
        client.get(f"/prompts/{prompt_id}/history", params={"limit": 500}).raise_for_status()

    def rest_run() -> None:
        client.get("/runs", params={"limit": 100}).raise_for_status()
        client.get(f"/runs/{run_id}").raise_for_status()
        client.get(f"/runs/{run_id}/results", params={"limit": 100}).raise_for_status()

    def rest_pivot() -> None:
        client.get("/runs", params={"limit": 200}).raise_for_status()
        client.get(f"/runs/{run_id}/pivot").raise_for_status()

    out = {}
    for key, page, rest in (("prompt_versions", page_runner("prompts", prompt=prompt_id),
                             rest_prompt),
                            ("run_results", page_runner("runs", run=run_id), rest_run),
                            ("run_pivot", page_runner("compare", run=run_id), rest_pivot)):
        rest_s = median_time(rest, repeat)
        page_s = median_time(page, repeat)
        out[key] = {"page_s": round(page_s, 3), "rest_s": round(rest_s, 3),
                    "ratio": round(page_s / rest_s, 2), "under_2s": page_s < TARGET_S}
    client.close()
    return out


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--versions", type=int, default=200)
    ap.add_argument("--cases", type=int, default=2500, help="× 2 targets = results")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()

    from harness.logging import configure_logging
    from harness.net import free_port
    from services.cli import ServerThread, _prepare
    from services.registry.app import create_app

    configure_logging("WARNING", True)
    logging.getLogger("uvicorn.access").disabled = True  # Streamlit's root handler prints it
    async with scratch_database(f"bench_studio_{uuid.uuid4().hex[:6]}") as db:
        await _prepare(db)
        with ServerThread(create_app(db), "127.0.0.1", free_port("127.0.0.1")) as server:
            os.environ["HARNESS_URL"] = server.url
            os.environ.pop("HARNESS_API_KEY", None)
            with httpx.Client(base_url=server.url, timeout=120) as client:
                t0 = time.perf_counter()
                prompt_id, run_id = await asyncio.to_thread(seed, client, args.versions,
                                                            args.cases)
                seed_s = time.perf_counter() - t0
            timings = await asyncio.to_thread(measure, server.url, prompt_id, run_id,
                                              args.repeat)
    print(json.dumps({"benchmark": "studio", "versions": args.versions,
                      "results": args.cases * 2, "repeat": args.repeat,
                      "seed_s": round(seed_s, 1), "target_s": TARGET_S, **timings}, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
