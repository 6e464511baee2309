"""The loopback stub LLM (tests/support/stub_llm.py) in a process of its own, answering
after a fixed latency, so a benchmark's own process measures only its side."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = """
import sys, time
from tests.support.stub_llm import StubLLM
stub = StubLLM(latency_s=float(sys.argv[1])).start()
print(stub.base_url, flush=True)
while True:
    time.sleep(3600)
"""


def start_stub(latency_s: float, script: str = SCRIPT) -> tuple[subprocess.Popen, str]:
    """Start the stub; its process and base URL (the caller terminates it)."""
    proc = subprocess.Popen([sys.executable, "-c", script, str(latency_s)], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    return proc, proc.stdout.readline().strip()
