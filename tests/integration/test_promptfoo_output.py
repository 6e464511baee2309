"""promptfoo's results file: the structure we write, reading it back, and running the
real promptfoo CLI (with a stand-in executable: this machine's Node is too old)."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import pytest

from harness.llm import LLMClient
from harness.promptfoo import (
    PromptfooRunError,
    PromptfooUnavailable,
    engine_promptfoo,
    from_promptfoo_json,
    load_config,
    promptfoo_command,
    run_plan,
    to_promptfoo_csv,
    to_promptfoo_json,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "promptfoo"

RESULT_KEYS = {"id", "promptIdx", "testIdx", "testCase", "promptId", "provider", "prompt",
               "vars", "response", "error", "failureReason", "success", "score", "latencyMs",
               "gradingResult", "namedScores", "metadata", "tokenUsage"}
METRIC_KEYS = {"score", "testPassCount", "testFailCount", "testErrorCount", "assertPassCount",
               "assertFailCount", "totalLatencyMs", "tokenUsage", "namedScores",
               "namedScoresCount", "namedScoreWeights", "cost"}
USAGE_KEYS = {"prompt", "completion", "cached", "total", "numRequests"}


@pytest.fixture(scope="module")
async def basic():
    plan = load_config(FIXTURES / "basic" / "promptfooconfig.yaml")
    outcome = await run_plan(plan, llm=LLMClient())
    return plan, outcome


async def test_results_file_has_promptfoo_structure(basic):
    plan, outcome = basic
    data = json.loads(json.dumps(to_promptfoo_json(plan, outcome)))  # JSON-serialisable
    assert set(data) == {"evalId", "results", "config", "shareableUrl", "metadata"}
    assert data["evalId"] == outcome.eval_id and data["shareableUrl"] is None
    assert data["config"]["description"] == "Echo basics"
    summary = data["results"]
    assert summary["version"] == 3
    assert summary["timestamp"].endswith("Z") and "T" in summary["timestamp"]
    assert set(summary) == {"version", "timestamp", "prompts", "results", "stats"}

    prompts = summary["prompts"]
    assert [(p["label"], p["provider"]) for p in prompts] == [
        ("Translate to {{language}}: {{text}}", "echo"), ("farewell", "echo")]
    assert prompts[0]["raw"] == "Translate to {{language}}: {{text}}"
    assert len(prompts[0]["id"]) == 64  # sha256 of the label
    for p in prompts:
        assert set(p["metrics"]) == METRIC_KEYS
        assert USAGE_KEYS <= set(p["metrics"]["tokenUsage"])
    assert prompts[1]["metrics"]["testPassCount"] == 4
    assert prompts[1]["metrics"]["testFailCount"] == 1
    assert prompts[1]["metrics"]["namedScores"] == {"format": 1.0}

    rows = summary["results"]
    assert len(rows) == 9
    assert [(r["testIdx"], r["promptIdx"]) for r in rows] == sorted(
        (r["testIdx"], r["promptIdx"]) for r in rows)
    for row in rows:
        assert RESULT_KEYS <= set(row)
        assert set(row["provider"]) == {"id"} and row["provider"]["id"] == "echo"
        assert {"raw", "label"} <= set(row["prompt"])
        assert USAGE_KEYS <= set(row["tokenUsage"])
    first = rows[0]
    assert first["prompt"]["raw"] == "Translate to French: Hello world"
    assert first["response"]["output"] == "Translate to French: Hello world"
    assert USAGE_KEYS <= set(first["response"]["tokenUsage"])
    assert first["success"] is True and first["failureReason"] == 0 and first["error"] is None
    assert first["vars"] == {"text": "Hello world", "language": "French"}
    assert first["testCase"]["vars"] == first["vars"]
    assert first["testCase"]["description"] == "language matrix"
    grading = first["gradingResult"]
    assert grading["pass"] is True and grading["score"] == 1.0
    assert [c["assertion"]["type"] for c in grading["componentResults"]] == [
        "contains", "not-contains", "regex"]
    assert all({"pass", "score", "reason", "assertion"} <= set(c)
               for c in grading["componentResults"])

    failed = next(r for r in rows if not r["success"])
    assert failed["failureReason"] == 1 and "HELLO WORLD" in failed["error"]
    assert failed["gradingResult"]["pass"] is False and failed["score"] == 0.5
    assert failed["testIdx"] == 2 and failed["promptIdx"] == 1

    stats = summary["stats"]
    assert (stats["successes"], stats["failures"], stats["errors"]) == (8, 1, 0)
    assert stats["tokenUsage"]["numRequests"] == 9
    assert stats["tokenUsage"]["total"] == sum(r["tokenUsage"]["total"] for r in rows)


async def test_error_rows_and_redacted_secrets(tmp_path):
    cfg = tmp_path / "promptfooconfig.yaml"
    cfg.write_text(
        "prompts: ['Hi {{name | nosuchfilter}}']\n"
        "providers: [{id: echo, label: e, config: {apiKey: sk-secret-123}}]\n"
        "tests: [{vars: {x: 1}}]\n")
    plan = load_config(cfg)
    data = to_promptfoo_json(plan, await run_plan(plan, llm=LLMClient()))
    assert "sk-secret-123" not in json.dumps(data)
    assert data["config"]["providers"][0]["config"]["apiKey"] == "[REDACTED]"
    [row] = data["results"]["results"]
    assert row["success"] is False and row["failureReason"] == 2
    assert "nosuchfilter" in row["error"]
    assert row["response"] is None and row["gradingResult"] is None
    assert row["provider"] == {"id": "echo", "label": "e"}
    assert data["results"]["stats"]["errors"] == 1
    assert data["results"]["prompts"][0]["metrics"]["testErrorCount"] == 1


async def test_round_trip_through_promptfoo_json(basic):
    plan, outcome = basic
    targets, cases, results = from_promptfoo_json(
        json.loads(json.dumps(to_promptfoo_json(plan, outcome))))
    assert [(t.target_id, t.label, t.model, t.content) for t in targets] == [
        (t.target_id, t.label, t.model, t.content) for t in plan.targets]
    assert [c.id for c in cases] == [c.id for c in plan.cases]
    for got, want in zip(cases, plan.cases, strict=True):
        assert got.input == want.input
        assert got.assert_ == want.assert_
        assert got.threshold == want.threshold
        assert got.metadata["description"] == want.metadata["description"]
    assert len(results) == len(outcome.results)
    originals = {(r.case_id, r.target_id, r.repeat): r for r in outcome.results}
    fields = ("run_id", "status", "score", "reason", "output", "rendered_prompt",
              "named_scores", "prompt_tokens", "completion_tokens", "total_tokens",
              "cost_usd", "model", "cached", "error")
    for got in results:
        want = originals[(got.case_id, got.target_id, got.repeat)]
        assert {f: getattr(got, f) for f in fields} == {f: getattr(want, f) for f in fields}
        assert [(a["type"], a["passed"], a["score"], a["metric"]) for a in got.assertions] == \
            [(a["type"], a["passed"], a["score"], a["metric"]) for a in want.assertions]
        assert got.latency_ms == pytest.approx(want.latency_ms, abs=1)


async def test_round_trip_keeps_repeats_chat_prompts_and_params(tmp_path):
    (tmp_path / "chat.json").write_text(json.dumps(
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "{{q}}"}]))
    cfg = tmp_path / "promptfooconfig.yaml"
    cfg.write_text("prompts: [file://chat.json]\n"
                   "providers: [{id: echo, config: {temperature: 0.3, apiKey: sk-x}}]\n"
                   "tests: [{vars: {q: [a, b]}}]\n")
    plan = load_config(cfg)
    outcome = await run_plan(plan, llm=LLMClient(), repeat=2)
    data = to_promptfoo_json(plan, outcome)
    assert [r["testIdx"] for r in data["results"]["results"]] == [0, 1, 2, 3]
    targets, cases, results = from_promptfoo_json(data)
    assert targets[0].content == plan.targets[0].content
    assert targets[0].params == {"temperature": 0.3}  # the redacted key is not restored
    assert [c.id for c in cases] == ["case-0001", "case-0002"]
    assert sorted((r.case_id, r.repeat) for r in results) == [
        ("case-0001", 0), ("case-0001", 1), ("case-0002", 0), ("case-0002", 1)]
    assert results[0].rendered_prompt == [{"role": "system", "content": "Be brief."},
                                          {"role": "user", "content": "a"}]


def test_reads_promptfoo_written_results():
    """A results file in promptfoo's own shape (no harness metadata)."""
    data = {
        "evalId": "eval-xyz-2025-01-01T00:00:00",
        "results": {
            "version": 3, "timestamp": "2025-01-01T00:00:00.000Z",
            "prompts": [{"raw": "Q {{q}}", "label": "Q {{q}}", "provider": "gpt",
                         "id": "abc", "metrics": {}}],
            "results": [
                {"promptIdx": 0, "testIdx": 0, "vars": {"q": "1"},
                 "testCase": {"vars": {"q": "1"}, "assert": [{"type": "contains",
                                                              "value": "1"}]},
                 "provider": {"id": "openai:chat:gpt-4o-mini", "label": "gpt"},
                 "prompt": {"raw": "Q 1", "label": "Q {{q}}"},
                 "response": {"output": {"answer": 1}, "tokenUsage": {"total": 5,
                                                                       "prompt": 3,
                                                                       "completion": 2}},
                 "success": True, "failureReason": 0, "score": 1, "latencyMs": 12,
                 "namedScores": {}, "cost": 0.0001,
                 "gradingResult": {"pass": True, "score": 1, "reason": "ok",
                                   "componentResults": [
                                       {"pass": True, "score": 1, "reason": "ok",
                                        "assertion": {"type": "contains", "value": "1"}}]}},
                {"promptIdx": 0, "testIdx": 1, "vars": {"q": "2"}, "testCase": {},
                 "provider": {"id": "openai:chat:gpt-4o-mini", "label": "gpt"},
                 "prompt": {"raw": "Q 2", "label": "Q {{q}}"},
                 "error": "API error: 500", "success": False, "failureReason": 2,
                 "score": 0, "latencyMs": 30, "namedScores": {}},
            ],
            "stats": {"successes": 1, "failures": 0, "errors": 1},
        },
        "config": {"providers": [{"id": "openai:chat:gpt-4o-mini", "label": "gpt",
                                  "config": {"temperature": 0}}]},
        "shareableUrl": None,
    }
    targets, cases, results = from_promptfoo_json(data)
    [target] = targets
    assert (target.model, target.label, target.params) == (
        "openai/gpt-4o-mini", "Q {{q}} · gpt", {"temperature": 0})
    assert [c.id for c in cases] == ["case-0001", "case-0002"]
    ok, err = results
    assert (ok.status, ok.output, ok.total_tokens, ok.cost_usd, ok.run_id) == (
        "pass", '{"answer": 1}', 5, 0.0001, "eval-xyz-2025-01-01T00:00:00")
    assert ok.assertions[0]["type"] == "contains"
    assert (err.status, err.error, err.output) == ("error", "API error: 500", None)
    with pytest.raises(ValueError):
        from_promptfoo_json({"something": "else"})


async def test_csv_export(basic):
    plan, outcome = basic
    lines = to_promptfoo_csv(plan, outcome).splitlines()
    assert lines[0] == ("text,language,[echo] Translate to {{language}}: {{text}},"
                        "[echo] farewell")
    assert lines[1] == ("Hello world,French,[PASS] (1.00) Translate to French: Hello world,"
                        "[PASS] (1.00) Say goodbye in French")


# ---------------------------------------------------------------- the real promptfoo
def fake_promptfoo(bin_dir: Path, exit_code: int = 0, write: bool = True) -> Path:
    bin_dir.mkdir(parents=True, exist_ok=True)
    script = bin_dir / "promptfoo"
    script.write_text(
        f"#!{sys.executable}\n"
        "import json, sys\n"
        "args = sys.argv[1:]\n"
        "out = args[args.index('-o') + 1]\n"
        "cfg = args[args.index('-c') + 1]\n"
        f"if {write!r}:\n"
        "    json.dump({'evalId': 'eval-fake', 'results': {'version': 3, 'timestamp': '',\n"
        "               'prompts': [], 'results': [], 'stats': {}}, 'config': {'c': cfg},\n"
        "               'shareableUrl': None, 'args': args}, open(out, 'w'))\n"
        "print('fake promptfoo failed', file=sys.stderr)\n"
        f"sys.exit({exit_code})\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def test_promptfoo_command_detection(tmp_path):
    def which_from(found: dict[str, str]):
        return lambda name: found.get(name)

    none: list = []
    assert promptfoo_command(which=which_from({"promptfoo": "/x/promptfoo"})) == ["/x/promptfoo"]
    assert promptfoo_command(which=which_from({"npx": "/x/npx"}), node=lambda: (22, 22, 0),
                             installed=none, install=False) == \
        ["/x/npx", "--yes", "promptfoo@0.123.1"]
    with pytest.raises(PromptfooUnavailable, match=r"Node\.js 20\.11\.1 is too old.*≥ 22"):
        promptfoo_command(which=which_from({"npx": "/x/npx"}), node=lambda: (20, 11, 1),
                          installed=none, install=False)
    with pytest.raises(PromptfooUnavailable, match="Node.js was not found"):
        promptfoo_command(which=which_from({}), node=lambda: None, installed=none,
                          install=False)
    # a private install (tools/promptfoo/install.sh's layout) comes before npx
    wrapper = tmp_path / "bin" / "promptfoo"
    wrapper.parent.mkdir()
    wrapper.write_text("#!/bin/sh\n")
    wrapper.chmod(0o755)
    assert promptfoo_command(which=which_from({"npx": "/x/npx"}), node=lambda: (22, 22, 0),
                             installed=[tmp_path]) == [str(wrapper)]


def test_engine_promptfoo_runs_promptfoo_on_path(tmp_path, monkeypatch):
    fake_promptfoo(tmp_path / "bin", exit_code=100)  # 100 = tests failed, results written
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    cfg = FIXTURES / "allpass" / "promptfooconfig.yaml"
    out = engine_promptfoo(cfg, tmp_path / "res.json", no_cache=True)
    data = json.loads(out.read_text())
    assert data["config"]["c"] == str(cfg.resolve())
    assert data["args"][:1] == ["eval"] and "--no-cache" in data["args"]
    targets, cases, results = from_promptfoo_json(data)
    assert (targets, cases, results) == ([], [], [])


def test_engine_promptfoo_failures(tmp_path, monkeypatch):
    fake_promptfoo(tmp_path / "bin", exit_code=1, write=False)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(PromptfooRunError, match="code 1 without writing results"):
        engine_promptfoo(FIXTURES / "allpass" / "promptfooconfig.yaml", tmp_path / "r.json")


def test_engine_promptfoo_unavailable_here(tmp_path, monkeypatch, setenv):
    """Without promptfoo on PATH, no private install and no npm to install one, it says
    what is needed."""
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing on PATH
    setenv("HARNESS_PROMPTFOO_DIR", str(tmp_path / "none"))
    with pytest.raises(PromptfooUnavailable, match="Node.js"):
        engine_promptfoo(FIXTURES / "allpass" / "promptfooconfig.yaml")
