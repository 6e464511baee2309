"""Every Grafana panel (infra/grafana/dashboards/*.json) asks a real Prometheus (the Debian
package) something it can answer: Prometheus scrapes ``harness up`` every second while a
scripted workload runs (two evaluation runs of two prompt versions with the stub LLM and
scoring, gateway calls direct and through an application, one with an e-mail address in
it), then each panel's PromQL, with Grafana's ``$__rate_interval`` and ``$__range`` set to
a window over the workload, returns at least one series with a number.

Skips, saying why, only when the ``prometheus`` binary is missing (.ci/run installs it)."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from harness.net import free_port
from tests.support import processes
from tests.support.stub_llm import StubLLM

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = ROOT / "infra" / "grafana" / "dashboards"
PRICES = {"openai/stub": {"input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6}}


def panel_queries() -> list[tuple[str, str, str]]:
    """(dashboard, panel title, PromQL) of every panel target."""
    out = []
    for path in sorted(DASHBOARDS.glob("*.json")):
        board = json.loads(path.read_text())
        for panel in board["panels"]:
            for target in panel["targets"]:
                out.append((path.stem, panel["title"], target["expr"]))
    return out


def wait_http(url: str, proc: subprocess.Popen, what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{what} exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{what} did not become ready at {url}")


def start_harness(db_url: str, data_dir: Path, port: int, stub: StubLLM) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": db_url, "HARNESS_DATA_DIR": str(data_dir),
           "OPENAI_API_KEY": "sk-test", "HARNESS_LOG_LEVEL": "WARNING",
           "HARNESS_LLM_DEPLOYMENTS": json.dumps({"*": {"api_base": stub.base_url}}),
           "HARNESS_GATEWAY_DEPLOYMENTS": json.dumps({"*": {"api_base": stub.base_url}}),
           "HARNESS_GATEWAY_PRICES": json.dumps(PRICES)}
    with open(data_dir / "harness.log", "wb") as log:
        proc = processes.spawn([sys.executable, "-m", "services.cli", "up", "--port", str(port),
                                "--no-studio"], env=env, stdout=log, stderr=subprocess.STDOUT)
    wait_http(f"http://127.0.0.1:{port}/readyz", proc, "harness up")
    return proc


def start_prometheus(binary: str, work: Path, target_port: int) -> tuple[subprocess.Popen, str]:
    (work / "prometheus.yml").write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n  - job_name: harness\n    metrics_path: /metrics\n"
        f"    static_configs:\n      - targets: ['127.0.0.1:{target_port}']\n")
    port = free_port()
    with open(work / "prometheus.log", "wb") as log:
        proc = processes.spawn([binary, f"--config.file={work / 'prometheus.yml'}",
                                f"--storage.tsdb.path={work / 'data'}",
                                f"--web.listen-address=127.0.0.1:{port}"],
                               stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    wait_http(f"{url}/-/ready", proc, "prometheus")
    return proc, url


def wait_run(c: httpx.Client, run_id: str, seconds: float = 120) -> dict:
    deadline = time.monotonic() + seconds
    while True:
        run = c.get(f"/runs/{run_id}").json()
        if run["status"] in ("completed", "failed", "cancelled") and run.get("phase") != "scoring":
            return run
        assert time.monotonic() < deadline, run
        time.sleep(0.1)


def workload(c: httpx.Client) -> None:
    """Two runs (prompt versions 1 and 2, scored by exact_match) and gateway calls."""
    p = c.post("/prompts", json={"name": "qa", "content": "Answer: {{ q }}"}).json()
    c.post(f"/prompts/{p['id']}/versions", json={"content": "Answer briefly: {{ q }}"})
    ds = c.post("/datasets", json={"name": "qa-data"}).json()
    cases = [{"input": {"q": f"question {i}"}, "expected_output": f"Answer: question {i}",
              "assert": [{"type": "contains", "value": "question"}]} for i in range(12)]
    assert c.post(f"/datasets/{ds['id']}/cases", json={"cases": cases}).status_code == 201
    for version in (1, 2):
        r = c.post("/runs", json={"dataset_id": ds["id"], "concurrency": 1,
                                  "metrics": ["exact_match"],
                                  "targets": [{"prompt_id": p["id"], "version": version,
                                               "model": "openai/stub"}]})
        assert r.status_code in (201, 202), r.text
        run = wait_run(c, r.json()["id"])
        assert run["status"] == "completed", run
    bot = c.post("/prompts", json={"name": "bot", "content": "You answer kindly."}).json()
    assert c.post("/applications", json={"name": "support", "model_id": "openai/stub",
                                          "prompt_id": bot["id"]}).status_code == 201
    key = c.post("/gateway/keys", json={"name": "load"})  # no API keys: local mode
    assert key.status_code == 201, key.text
    auth = {"Authorization": f"Bearer {key.json()['key']}"}
    for i in range(16):
        model = "app/support" if i % 2 else "openai/stub"
        content = f"hello {i}, write to jo{i}@example.com" if i % 4 == 0 else f"hello {i}"
        r = c.post("/v1/chat/completions", headers=auth, json={
            "model": model, "messages": [{"role": "user", "content": content}]})
        assert r.status_code == 200, r.text
        time.sleep(0.2)


def has_number(result: list[dict]) -> bool:
    return any(not math.isnan(float(s["value"][1])) for s in result)


@pytest.fixture
def prometheus_binary() -> str:
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.skip("the prometheus binary is not installed (apt-get install -y "
                    "--no-install-recommends prometheus; .ci/run does it)")
    return binary


def test_every_dashboard_panel_returns_data(db_url, tmp_path, prometheus_binary):
    queries = panel_queries()
    assert {d for d, _, _ in queries} == {"overview", "evaluation", "pipeline-health"}
    with StubLLM(latency_s=0.15) as stub:
        port = free_port()
        harness = start_harness(db_url, tmp_path, port, stub)
        prom = None
        try:
            prom, prom_url = start_prometheus(prometheus_binary, tmp_path, port)
            c = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
            started = time.time()
            time.sleep(2)  # a first scrape of every series at its starting value
            workload(c)
            # the registry's SSE stream has a subscriber for a few scrapes
            with c.stream("GET", "/events/stream"):
                time.sleep(3)
            window = f"{int(time.time() - started) + 5}s"
            q = httpx.Client(base_url=prom_url, timeout=30)
            failures = []
            for board, title, expr in queries:
                promql = expr.replace("$__rate_interval", window).replace("$__range", window)
                body = q.get("/api/v1/query", params={"query": promql}).json()
                if body.get("status") != "success":
                    failures.append(f"{board} / {title}: {body.get('error')}: {promql}")
                elif not has_number(body["data"]["result"]):
                    failures.append(f"{board} / {title}: no data: {promql}")
            series = q.get("/api/v1/query", params={
                "query": 'count({__name__=~"harness_.+"})'}).json()["data"]["result"]
            print(f"harness series after the workload: {series[0]['value'][1]}")
            assert not failures, "\n".join(failures)
            names = q.get("/api/v1/label/__name__/values").json()["data"]
            assert all(n.startswith(("harness_", "scrape_", "up")) for n in names), names
        finally:
            if prom is not None:
                processes.stop(prom)
            processes.stop(harness)
