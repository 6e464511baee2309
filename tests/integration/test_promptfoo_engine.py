"""`harness eval --engine promptfoo` runs the real promptfoo 0.123.1 (its private Node 22
from .harness/promptfoo, installed on first use) and gives the same verdicts as
`harness eval` on the same config; with --record its run lands in the registry like
harness's own.

Needs Node + promptfoo: .ci/run installs them with tools/promptfoo/install.sh. The test is
skipped only when they are missing and the npm registry cannot be reached to install
them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from harness.promptfoo.node import NodeMissing, install_promptfoo, installed_promptfoo
from tests.support import processes

CONFIG = Path(__file__).resolve().parents[1] / "fixtures" / "promptfoo" / "engines" / \
    "promptfooconfig.yaml"


def _npm_registry_reachable() -> bool:
    npm = shutil.which("npm")
    if not npm:
        return False
    try:
        return processes.run([npm, "ping"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


@pytest.fixture(scope="module")
def promptfoo_installed() -> Path:
    wrapper = installed_promptfoo()
    if wrapper is not None:
        return wrapper
    if not _npm_registry_reachable():
        pytest.skip("promptfoo 0.123.1 is not installed and the npm registry cannot be reached "
                    "to install it (tools/promptfoo/install.sh)")
    try:
        return install_promptfoo(progress=lambda m: None)
    except NodeMissing as exc:  # reachable registry but a broken install: that is a failure
        pytest.fail(f"installing promptfoo failed: {exc}")


async def harness(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    return await processes.run_async(
        sys.executable, "-m", "services.cli", *args, timeout=600,
        env={**os.environ, "COLUMNS": "200", "HARNESS_LOG_JSON": "false", **(env or {})})


def verdicts(path: Path) -> dict[tuple[int, int], tuple[bool, list[bool]]]:
    """Per row: the test's pass and each assertion's pass, in order."""
    rows = json.loads(path.read_text())["results"]["results"]
    out = {}
    for row in rows:
        parts = (row.get("gradingResult") or {}).get("componentResults") or []
        out[(row["testIdx"], row["promptIdx"])] = (bool(row["success"]),
                                                   [bool(c["pass"]) for c in parts])
    return out


async def test_both_engines_give_the_same_verdicts(promptfoo_installed, tmp_path):
    ours, theirs = tmp_path / "harness.json", tmp_path / "promptfoo.json"
    code_ours, text_ours = await harness("eval", "-c", str(CONFIG), "-o", str(ours))
    code_theirs, text_theirs = await harness("eval", "-c", str(CONFIG), "-o", str(theirs),
                                             "--engine", "promptfoo", "--no-cache")
    assert code_theirs == code_ours == 100, (text_ours, text_theirs)  # rows fail
    a, b = verdicts(ours), verdicts(theirs)
    assert len(a) == 10
    assert a == b
    assert sum(1 for passed, _ in a.values() if not passed) == 4  # as the fixture says


async def test_engine_promptfoo_records_its_run(promptfoo_installed, live_url, tmp_path):
    code, text = await harness("eval", "-c", str(CONFIG), "--engine", "promptfoo", "--record",
                               "--url", live_url, "--no-cache")
    assert code == 100 and "recorded as run" in text, text
    code, text = await harness("eval", "-c", str(CONFIG), "--record", "--url", live_url)
    assert code == 100 and "recorded as run" in text, text
    async with httpx.AsyncClient(timeout=60, base_url=live_url) as c:
        runs = (await c.get("/runs")).json()["items"]
        assert sorted(r["source"] for r in runs) == ["harness-eval", "promptfoo"]
        counts = {r["source"]: (r["recorded"], r["failed"] + r["errors"]) for r in runs}
        assert counts["promptfoo"] == counts["harness-eval"] == (10, 4)
        for run in runs:
            results = (await c.get(f"/runs/{run['id']}/results",
                                   params={"limit": 100})).json()["items"]
            assert len(results) == 10
