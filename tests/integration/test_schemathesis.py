"""A bounded schemathesis run against the registry with the gateway: no server error, and
every response (errors included) matches what the OpenAPI document says.

The run is bounded by example count (a slow machine takes longer, never tests less) and
has a pinned seed, so a failure reproduces; the subprocess timeout is only a hang guard
(``--max-time`` would make schemathesis repeat fuzzing until the time is spent). Longer
runs for a hunt: ``st run http://127.0.0.1:PORT/openapi.json --checks all -n 40 --seed 1``.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import sys
from pathlib import Path

import pytest

from services.gateway.config import GatewaySettings
from tests.support.gateway import serve_gateway

pytestmark = pytest.mark.slow

CHECKS = ("not_a_server_error,status_code_conformance,content_type_conformance,"
          "response_schema_conformance")
EXAMPLES = 3  # fuzzed examples per operation (the coverage phase adds its boundary cases):
# about 2,900 test cases, 1.5-3 minutes on a 2-core machine
SEED = 1


def _st() -> str:
    found = shutil.which("st", path=str(Path(sys.executable).parent)) or shutil.which("st")
    if found is None:
        pytest.skip("schemathesis is not installed (the dev extra has it)")
    return found


async def test_schemathesis_finds_no_server_error_and_no_nonconformance(runtime, tmp_path):
    st = _st()
    async with serve_gateway(runtime, GatewaySettings(trace_flush_s=0.05)) as gw:
        key = await gw.key("fuzz")
        report = tmp_path / "junit.xml"
        proc = await asyncio.create_subprocess_exec(
            st, "run", f"{gw.url}/openapi.json", "--checks", CHECKS,
            "--max-examples", str(EXAMPLES), "--seed", str(SEED), "--workers", "1",
            "--phases", "coverage,fuzzing,stateful",
            "--generation-database", "none",  # no --max-time: it repeats fuzzing until spent
            "--header", f"Authorization: Bearer {key}",
            "--report", "junit", "--report-junit-path", str(report),
            cwd=tmp_path, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            env={**os.environ, "NO_COLOR": "1", "SCHEMATHESIS_TELEMETRY": "false"})
        out, _ = await asyncio.wait_for(proc.communicate(), timeout=900)
    text = out.decode("utf-8", "replace")
    summary = text[text.rfind("SUMMARY"):] if "SUMMARY" in text else text[-3000:]
    print(summary)
    assert "Server error" not in text, text[-20000:]
    assert proc.returncode == 0, text[-20000:]
    generated = re.search(r"(\d+) generated", text)
    assert generated and int(generated.group(1)) >= 1000, summary
