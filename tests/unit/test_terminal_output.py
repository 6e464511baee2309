"""What the CLI prints is readable in an ordinary 80-column terminal: tables wrap instead
of cropping cells to "ta…", diffs wrap instead of cutting lines, logs are for people on a
terminal and JSON elsewhere, the SDK prints nothing into its host's output, and no
platformdirs warning greets every command."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

from rich.console import Console
from rich.syntax import Syntax

from harness.cli_run import metrics_table, summary_tables
from harness.demo import history_table
from harness.logging import wants_json
from tests.support import processes

ROOT = Path(__file__).resolve().parents[2]


def render(*renderables, width: int = 80) -> str:
    """As an 80-column terminal shows it; fails if a table was cut at the right edge."""
    console = Console(width=width, file=io.StringIO(), color_system=None, record=True)
    for r in renderables:
        console.print(r)
    out = console.export_text()
    for line in out.splitlines():
        if line and line[0] in "┏┃┡│└":
            assert line.rstrip()[-1] in "┓┃┩│┘", f"cropped at the right edge:\n{out}"
    return out


def _target(label: str, **kw) -> dict:
    return {"label": label, "target_id": "t-" + label, "cases": 120, "passed": 97,
            "failed": 20, "errors": 3, "pass_rate": 0.8083, "case_pass_rate": 0.8083,
            "mean_score": 0.912, "latency_p50_ms": 1234.0, "latency_p95_ms": 20456.0,
            "total_tokens": 1234567, "cost_usd": 0.12345, "cost_unknown": 2,
            "flaky_cases": ["a", "b"], "metrics": {"faithfulness": {
                "mean": 0.8, "p50": 0.9, "min": 0.1, "max": 1.0, "count": 118,
                "n_not_applicable": 1, "n_errors": 1}}, **kw}


def test_run_summary_fits_80_columns_without_cropping():
    summary = {"targets": [_target("support-reply@v3 · openai/gpt-4o-mini"),
                           _target("support-reply@v4 · anthropic/claude-3-5-haiku-latest")],
               "total": _target("total")}
    out = render(*summary_tables(summary), metrics_table(summary))
    assert "…" not in out, out
    assert max(len(line) for line in out.splitlines()) <= 80
    for header in ("target", "cases", "pass", "fail", "error", "tokens", "cost $", "metric"):
        assert header in out
    first = "".join("".join(line.split("│")[1].split()) for line in out.splitlines()
                    if line.startswith("│"))  # the target column, folded lines joined
    for label in ("support-reply@v3·openai/gpt-4o-mini",
                  "support-reply@v4·anthropic/claude-3-5-haiku-latest"):
        assert label in first, out
    for value in ("80.8%", "1234567", "0.12345", "20456", "faithfulness"):
        assert value in out


def test_history_reasons_wrap_at_words_not_cropped():
    reason = ("rollback: v2 answers were too short for refund questions, "
              "see ticket SUP-1234 for the customer complaints")
    history = [
        {"stream_version": 1, "at": "2026-12-06T21:00:00.123456+00:00", "actor": "demo",
         "type": "PromptCreated", "version": 1, "note": "first draft"},
        {"stream_version": 4, "at": "2026-12-06T21:05:00.123456+00:00",
         "actor": "someone-with-a-long-name", "type": "PromptVersionActivated",
         "version": 1, "note": reason},
    ]
    out = render(history_table("support-reply", history))
    assert "…" not in out, out
    assert max(len(line) for line in out.splitlines()) <= 80
    words = " ".join(line.strip("│ ") for line in out.splitlines())
    for word in reason.split():  # every word whole, on one line
        assert word in words, (word, out)


def test_diffs_wrap_long_lines_instead_of_cutting_them():
    line = "+You are a concise, friendly support agent for {{ product }}. Answer in " \
           "{{ language }}, in at most three sentences."
    out = render(Syntax(f"--- v1\n+++ v2\n{line}\n", "diff", theme="ansi_dark",
                        word_wrap=True))
    assert max(len(x) for x in out.splitlines()) <= 80
    assert out.split()[4:] == line.split()  # every word there, none cut


def test_cli_diffs_are_printed_with_word_wrap():
    source = (ROOT / "services" / "cli.py").read_text() + \
        (ROOT / "libs" / "harness" / "demo.py").read_text()
    calls = source.count('"diff", theme="ansi_dark"')
    assert calls >= 2 and source.count("word_wrap=True") >= calls


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_logs_are_for_people_on_a_terminal_and_json_elsewhere():
    assert wants_json(stream=_Tty()) is False
    assert wants_json(stream=io.StringIO()) is True  # a file, a pipe, a collector
    assert wants_json("json", stream=_Tty()) is True
    assert wants_json("console", stream=io.StringIO()) is False
    assert wants_json(None, log_json=False, stream=io.StringIO()) is False
    assert wants_json("json", log_json=False) is True  # HARNESS_LOG_FORMAT wins


def _python(code: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith("HARNESS_LOG") and k != "XDG_RUNTIME_DIR"}
    return processes.run([sys.executable, "-W", "default", "-c", code], cwd=ROOT,
                         env={**clean, **env}, capture_output=True, text=True, timeout=120)


def test_the_client_library_prints_nothing_unless_the_application_configures_logging():
    quiet = _python("from harness.client._async import log\n"
                    "log.warning('client.serving_last_good', key='app:bot')\n"
                    "log.info('client.fetched', key='app:bot')\n")
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stdout == "" and quiet.stderr == ""
    configured = _python("import logging, sys\n"
                         "logging.basicConfig(stream=sys.stdout, level=logging.INFO)\n"
                         "from harness.client._async import log\n"
                         "log.warning('client.serving_last_good', key='app:bot')\n")
    assert "client.serving_last_good" in configured.stdout and "app:bot" in configured.stdout


def test_no_xdg_runtime_dir_warning():
    r = _python("from harness.db import import_pgserver\nimport_pgserver()\n")
    assert r.returncode == 0, r.stderr
    assert "XDG_RUNTIME_DIR" not in r.stderr
