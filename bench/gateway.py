"""Added latency of the gateway over calling the stub provider directly, side by side with
LiteLLM's own proxy on the same stub and the same load, in the same run (JSON).

    HARNESS_TEST_DATABASE_URL=postgresql://... python bench/gateway.py [--requests 2000]

Every part is its own process, so no two share an event loop or a core's GIL:

- the stub provider (``tests/support/stub_llm.py``, fixed latency per call),
- the gateway service exactly as Cloud Run runs it (``services.gateway.service``), with a
  key of its own: key lookup, PII masking (the default ``mask`` policy), LiteLLM routing,
  batched trace writes to Postgres,
- LiteLLM's proxy (``litellm --config``) from its own virtualenv
  (``.harness/litellm-proxy-venv``, made here with the same LiteLLM version as ours, so
  the project's venv is not touched), with a master key and no database,
- the load generator (``gateway_parts/load.py``: aiohttp, kept-alive connections).

Per concurrency level (1, 50 and 200; at 1, at most 300 calls) each target gets a warm-up,
then ``--requests`` calls;
the rounds are interleaved (direct, gateway, proxy, direct, ...) so drift on a shared
machine hits all three alike. ``overhead_*`` = gateway − direct, ``litellm_overhead_*`` =
proxy − direct, at p50 and p99.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._db import scratch_database  # noqa: E402
from harness.net import free_port

ROOT = Path(__file__).resolve().parents[1]
PARTS = Path(__file__).resolve().parent / "gateway_parts"
PROXY_VENV = ROOT / ".harness" / "litellm-proxy-venv"
PY = sys.executable


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


# ---------------------------------------------------------------- LiteLLM's proxy venv


def _proxy_requirements() -> tuple[list[str], list[str]]:
    """The ``[proxy]`` extra of our installed LiteLLM: (requirements, companion packages
    pinned to LiteLLM's release, which the registry may not carry)."""
    from packaging.requirements import Requirement

    reqs, companions = [], []
    for raw in importlib.metadata.requires("litellm") or []:
        req = Requirement(raw)
        if req.marker is None or not req.marker.evaluate({"extra": "proxy"}) \
                or req.marker.evaluate({"extra": ""}):
            continue
        (companions if req.name.startswith("litellm-") else reqs).append(
            str(req).split(";")[0].strip())
    return reqs, companions


def ensure_proxy_venv() -> dict:
    """Make (once) a virtualenv with LiteLLM's proxy at our LiteLLM version."""
    version = importlib.metadata.version("litellm")
    marker = PROXY_VENV / f".installed-{version}.json"
    if marker.exists():
        return json.loads(marker.read_text())
    pip = [str(PROXY_VENV / "bin" / "python"), "-m", "pip", "install", "-q"]
    if not (PROXY_VENV / "bin" / "python").exists():
        subprocess.run([PY, "-m", "venv", str(PROXY_VENV)], check=True)
    info = {"litellm": version, "venv": str(PROXY_VENV.relative_to(ROOT))}
    done = subprocess.run([*pip, f"litellm[proxy]=={version}"], capture_output=True, text=True)
    if done.returncode == 0:
        info["installed"] = f"litellm[proxy]=={version}"
    else:
        # the extra pins companion packages (litellm-proxy, ...) at LiteLLM's release; when
        # the registry lacks them, install the extra's other requirements: the proxy server
        # itself ships inside the litellm package
        reqs, companions = _proxy_requirements()
        subprocess.run([*pip, f"litellm=={version}", *reqs], check=True)
        info["installed"] = (f"litellm=={version} + the [proxy] extra's requirements without "
                             f"{', '.join(companions)} (not on the package registry)")
    subprocess.run([str(PROXY_VENV / "bin" / "python"), "-c",
                    "import litellm.proxy.proxy_server"], check=True, capture_output=True)
    marker.write_text(json.dumps(info))
    return info


# ---------------------------------------------------------------- processes


class Proc:
    def __init__(self, name: str, args: list[str], **kw) -> None:
        self.name = name
        self.log = tempfile.TemporaryFile()
        self.p = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=kw.pop("stdout", self.log),
                                  stderr=self.log, start_new_session=True, **kw)

    def stop(self) -> None:
        if self.p.poll() is None:
            os.killpg(self.p.pid, signal.SIGTERM)
            try:
                self.p.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.p.pid, signal.SIGKILL)
                self.p.wait()

    def tail(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-3000:]


def _wait_http(url: str, proc: Proc, timeout_s: float = 180) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.p.poll() is not None:
            raise RuntimeError(f"{proc.name} exited:\n{proc.tail()}")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{proc.name} did not answer {url}:\n{proc.tail()}")


def _load(url: str, headers: dict, body: dict, concurrency: int, requests: int) -> dict:
    args = [PY, str(PARTS / "load.py"), "--url", url, "--body", json.dumps(body),
            "--concurrency", str(concurrency), "--requests", str(requests)]
    for k, v in headers.items():
        args += ["--header", f"{k}:{v}"]
    out = subprocess.run(args, capture_output=True, text=True, check=True)
    res = json.loads(out.stdout)
    if res["errors"]:
        print(json.dumps({"url": url, "concurrency": concurrency, "errors": res["errors"],
                          "first": res["first_error"]}), file=sys.stderr)
    return res


def _summary(lat: list[float], elapsed_s: float) -> dict:
    return {"p50_ms": round(statistics.median(lat), 2), "p99_ms": round(_pct(lat, 0.99), 2),
            "rps": round(len(lat) / elapsed_s, 1), "n": len(lat)}


# ---------------------------------------------------------------- the run


async def _prepare(db_url: str) -> str:
    from harness.db import create_pool
    from services.gateway.keys import create_key
    from services.registry.runtime import migrate_all

    pool = await create_pool(db_url, min_size=1, max_size=2)
    try:
        await migrate_all(pool)
        secret, _ = await create_key(pool, "bench")
        return secret
    finally:
        await pool.close()


def run(db_url: str, args) -> dict:
    result: dict = {"requests": args.requests, "rounds": args.rounds,
                    "stub_latency_ms": args.latency_ms}
    secret = asyncio.run(_prepare(db_url))
    try:
        proxy = ensure_proxy_venv()
    except (subprocess.CalledProcessError, OSError) as exc:
        proxy = {"error": f"LiteLLM's proxy could not be installed: {exc}"}
    result["litellm_proxy"] = proxy
    procs: list[Proc] = []
    try:
        stub = Proc("stub", [PY, str(PARTS / "stub.py"), "--latency-ms", str(args.latency_ms)],
                    stdout=subprocess.PIPE)
        procs.append(stub)
        stub_url = stub.p.stdout.readline().decode().strip()
        assert stub_url.startswith("http"), stub.tail()

        gw_port = free_port()
        gw = Proc("gateway", [PY, str(PARTS / "gateway_server.py"), "--database-url", db_url,
                              "--stub-url", stub_url, "--port", str(gw_port)], cwd=ROOT)
        procs.append(gw)
        targets = {
            "direct": (f"{stub_url}/chat/completions", {}, "stub-model"),
            "gateway": (f"http://127.0.0.1:{gw_port}/v1/chat/completions",
                        {"Authorization": f"Bearer {secret}"}, "openai/stub-model"),
        }
        if "error" not in proxy:
            px_port = free_port()
            cfg = Path(tempfile.mkdtemp()) / "litellm.yaml"
            cfg.write_text(json.dumps({  # YAML is a superset of JSON
                "model_list": [{"model_name": "stub-model", "litellm_params": {
                    "model": "openai/stub-model", "api_base": stub_url, "api_key": "sk-stub"}}],
                "litellm_settings": {"num_retries": 0, "request_timeout": 30},
                "general_settings": {"master_key": "sk-bench-master"}}))
            px = Proc("litellm-proxy", [str(PROXY_VENV / "bin" / "litellm"), "--config",
                                        str(cfg), "--host", "127.0.0.1", "--port",
                                        str(px_port), "--num_workers", "1"],
                      env={**os.environ, "LITELLM_LOG": "ERROR",
                           "LITELLM_LOCAL_MODEL_COST_MAP": "True"})
            procs.append(px)
            targets["litellm"] = (f"http://127.0.0.1:{px_port}/v1/chat/completions",
                                  {"Authorization": "Bearer sk-bench-master"}, "stub-model")
        _wait_http(f"http://127.0.0.1:{gw_port}/readyz", gw)
        if "litellm" in targets:
            _wait_http(f"http://127.0.0.1:{px_port}/health/liveliness", px)

        messages = [{"role": "user", "content": "Summarize this ticket for the on-call "
                     "engineer: the checkout page times out for some users."}]
        for conc in args.levels:
            n = args.requests if conc >= 50 else min(args.requests, 300)
            samples: dict[str, list[float]] = {t: [] for t in targets}
            elapsed: dict[str, float] = {t: 0.0 for t in targets}
            for url, headers, model in targets.values():  # warm-up
                _load(url, headers, {"model": model, "messages": messages}, conc,
                      max(conc * 2, 20))
            for _ in range(args.rounds):
                for name, (url, headers, model) in targets.items():
                    r = _load(url, headers, {"model": model, "messages": messages}, conc, n)
                    samples[name] += r["latencies_ms"]
                    elapsed[name] += r["elapsed_s"]
            level = {name: _summary(samples[name], elapsed[name]) for name in targets}
            d = level["direct"]
            level["overhead_p50_ms"] = round(level["gateway"]["p50_ms"] - d["p50_ms"], 2)
            level["overhead_p99_ms"] = round(level["gateway"]["p99_ms"] - d["p99_ms"], 2)
            if "litellm" in level:
                level["litellm_overhead_p50_ms"] = round(level["litellm"]["p50_ms"]
                                                         - d["p50_ms"], 2)
                level["litellm_overhead_p99_ms"] = round(level["litellm"]["p99_ms"]
                                                         - d["p99_ms"], 2)
            else:
                level["litellm_overhead_p50_ms"] = level["litellm_overhead_p99_ms"] = None
            result[f"c{conc}"] = level
    finally:
        for p in reversed(procs):
            p.stop()
    for key in ("overhead_p50_ms", "overhead_p99_ms", "litellm_overhead_p50_ms",
                "litellm_overhead_p99_ms"):
        result[key] = {f"c{c}": result[f"c{c}"][key] for c in args.levels}
    return result


async def _main(args) -> dict:
    async with scratch_database("harness_bench_gateway") as db_url:
        return await asyncio.to_thread(run, db_url, args)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=2000, help="per target, level and round")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--latency-ms", type=float, default=20, help="the stub's answer time")
    ap.add_argument("--levels", type=lambda v: [int(x) for x in v.split(",")],
                    default=[1, 50, 200], help="concurrency levels (1 = one request at a "
                                               "time: the added CPU per request, no queueing)")
    args = ap.parse_args()
    from harness.logging import configure_logging

    configure_logging("WARNING", True)  # stdout is the JSON result
    print(json.dumps(asyncio.run(_main(args)), indent=2))


if __name__ == "__main__":
    main()
