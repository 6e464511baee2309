"""Running promptfoo configs: the offline echo model and real LiteLLM calls to the
loopback stub, verdicts, the matrix, and the ``harness eval`` command."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from harness.llm import LLMClient
from harness.promptfoo import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    eval_command,
    load_config,
    run_plan,
    to_promptfoo_json,
)
from tests.support.stub_llm import StubLLM

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "promptfoo"


def verdicts(outcome) -> dict[tuple[str, str], str]:
    return {(r.case_id, r.target_id): r.status for r in outcome.results}


def matrix_config(tmp_path: Path, stub: StubLLM) -> Path:
    text = (FIXTURES / "matrix" / "promptfooconfig.yaml").read_text()
    path = tmp_path / "promptfooconfig.yaml"
    path.write_text(text.replace("__STUB_BASE_URL__", stub.base_url))
    return path


def answer(body: dict) -> str:
    question = body["messages"][-1]["content"]
    return "Paris is the capital of France." if "France" in question else "It is 4."


def recording_console() -> tuple[Console, io.StringIO]:
    buf = io.StringIO()
    return Console(file=buf, width=200, force_terminal=False, color_system=None), buf


# ---------------------------------------------------------------- echo (offline)
async def test_echo_config_gives_expected_verdicts():
    plan = load_config(FIXTURES / "basic" / "promptfooconfig.yaml")
    seen = []
    outcome = await run_plan(plan, llm=LLMClient(), concurrency=3,
                             progress=lambda done, total, r: seen.append((done, total)))
    assert verdicts(outcome) == {
        ("case-0001", "t0"): "pass", ("case-0001", "t1"): "pass",
        ("case-0002", "t0"): "pass", ("case-0002", "t1"): "pass",
        ("case-0003", "t0"): "pass", ("case-0003", "t1"): "fail",
        ("case-0004", "t0"): "pass", ("case-0004", "t1"): "pass",
        ("case-0005", "t1"): "pass",
    }
    by_key = {(r.case_id, r.target_id): r for r in outcome.results}
    assert by_key[("case-0001", "t0")].output == "Translate to French: Hello world"
    failed = by_key[("case-0003", "t1")]
    assert failed.score == 0.5 and "HELLO WORLD" in failed.reason
    assert by_key[("case-0004", "t0")].score == pytest.approx(2 / 3)
    assert by_key[("case-0005", "t1")].named_scores == {"format": 1.0}
    assert sorted(seen) == [(i, 9) for i in range(1, 10)]
    # results come back in promptfoo's order: test, then target
    assert [(r.case_id, r.target_id) for r in outcome.results][:3] == [
        ("case-0001", "t0"), ("case-0001", "t1"), ("case-0002", "t0")]
    assert outcome.counts() == {"pass": 8, "fail": 1, "error": 0}
    assert outcome.eval_id.startswith("eval-")


async def test_file_prompts_and_csv_tests_verdicts():
    plan = load_config(FIXTURES / "files" / "promptfooconfig.yaml")
    outcome = await run_plan(plan, llm=LLMClient())
    got = verdicts(outcome)
    assert got == {
        ("case-0001", "t0"): "pass", ("case-0001", "t1"): "pass", ("case-0001", "t2"): "pass",
        ("case-0002", "t0"): "pass", ("case-0002", "t1"): "fail", ("case-0002", "t2"): "fail",
        ("case-0003", "t0"): "pass", ("case-0003", "t1"): "pass", ("case-0003", "t2"): "pass",
        ("case-0004", "t0"): "fail", ("case-0004", "t1"): "pass", ("case-0004", "t2"): "fail",
        ("case-0005", "t0"): "pass", ("case-0005", "t1"): "fail", ("case-0005", "t2"): "fail",
    }
    by_key = {(r.case_id, r.target_id): r for r in outcome.results}
    chat = by_key[("case-0003", "t2")]
    # a chat prompt renders as promptfoo renders it (JSON, indent 2); echo answers with it
    assert chat.rendered_prompt == json.dumps([{"role": "system", "content": "You are terse."},
                                               {"role": "user", "content": "Greet Cy"}],
                                              indent=2)
    assert chat.output == chat.rendered_prompt
    assert by_key[("case-0001", "t0")].named_scores == {"greeting": 1.0}
    assert by_key[("case-0003", "t0")].score == 0.5  # is-json fails, threshold 0.5 passes


async def test_missing_variable_renders_empty(tmp_path):
    cfg = tmp_path / "promptfooconfig.yaml"
    cfg.write_text("prompts: ['Hi {{name}}']\nproviders: [echo]\ntests: [{vars: {x: 1}}]\n")
    outcome = await run_plan(load_config(cfg), llm=LLMClient())
    [result] = outcome.results
    assert result.status == "pass" and result.rendered_prompt == "Hi "  # as in promptfoo
    cfg.write_text("prompts: ['{{ broken']\nproviders: [echo]\n")  # a partial tag is text
    [result] = (await run_plan(load_config(cfg), llm=LLMClient())).results
    assert result.status == "pass" and result.output == "{{ broken"


async def test_unusable_assertion_value_is_a_row_error_and_the_eval_goes_on(tmp_path):
    cfg = tmp_path / "promptfooconfig.yaml"
    cfg.write_text("prompts: ['{{t}}']\nproviders: [echo]\ntests:\n"
                   "  - {vars: {t: a}, assert: [{type: contains}, {type: equals, value: a}]}\n"
                   "  - {vars: {t: b}, assert: [{type: equals, value: b}]}\n")
    plan = load_config(cfg)
    outcome = await run_plan(plan, llm=LLMClient())
    assert [r.status for r in outcome.results] == ["error", "pass"]
    data = to_promptfoo_json(plan, outcome)
    bad = data["results"]["results"][0]
    assert (bad["success"], bad["score"], bad["failureReason"], bad["gradingResult"]) == (
        False, 0.0, 2, None)
    assert data["results"]["stats"]["errors"] == 1 and data["results"]["stats"]["successes"] == 1


async def test_repeat_and_prefix_suffix(tmp_path):
    cfg = tmp_path / "promptfooconfig.yaml"
    cfg.write_text(
        "prompts: ['{{q}}']\nproviders: [echo]\n"
        "tests:\n  - vars: {q: body}\n    options: {prefix: '<<', suffix: '>>'}\n"
        "    assert: [{type: equals, value: '<<body>>'}]\n")
    outcome = await run_plan(load_config(cfg), llm=LLMClient(), repeat=3)
    assert [(r.repeat, r.status) for r in outcome.results] == [(0, "pass"), (1, "pass"),
                                                               (2, "pass")]
    assert outcome.repeat == 3


# ---------------------------------------------------------------- LiteLLM → stub
async def test_two_providers_make_a_matrix(tmp_path, stub):
    stub.reply("stub-model", answer)
    stub.reply("judge", json.dumps({"pass": True, "score": 1, "reason": "it says four"}))
    plan = load_config(matrix_config(tmp_path, stub))
    assert [t.label for t in plan.targets] == ["Q: {{question}} · echo", "Q: {{question}} · stub"]
    assert plan.targets[1].model == "openai/stub-model"
    outcome = await run_plan(plan, llm=LLMClient(), concurrency=2)
    assert verdicts(outcome) == {
        ("case-0001", "t0"): "fail", ("case-0001", "t1"): "pass",
        ("case-0002", "t0"): "pass", ("case-0002", "t1"): "pass",
        ("case-0003", "t0"): "pass",  # the test's providers filter: echo only
    }
    by_key = {(r.case_id, r.target_id): r for r in outcome.results}
    paris = by_key[("case-0001", "t1")]
    assert paris.output == "Paris is the capital of France."
    assert paris.model == "openai/stub-model"
    assert paris.prompt_tokens and paris.completion_tokens
    # the provider config reached the endpoint as request parameters
    sent = [r.body for r in stub.chat_requests if r.model == "stub-model"]
    assert len(sent) == 2
    for body in sent:
        assert (body["temperature"], body["max_tokens"], body["top_p"], body["seed"]) == \
            (0, 64, 0.9, 7)
    assert sent[0]["messages"][0]["role"] == "user"
    # llm-rubric was graded by the judge from defaultTest.options.provider
    judged = [r for r in stub.chat_requests if r.model == "judge"]
    assert len(judged) == 2
    assert "says four" in judged[0].body["messages"][-1]["content"]
    assert by_key[("case-0002", "t0")].assertions[0]["reason"] == "it says four"


async def test_provider_http_errors_are_error_results(tmp_path, stub):
    stub.fail_next(401, times=5, model="stub-model")
    cfg = tmp_path / "promptfooconfig.yaml"
    cfg.write_text(
        "prompts: ['{{q}}']\n"
        f"providers: [{{id: 'openai:chat:stub-model', config: {{apiBaseUrl: '{stub.base_url}',"
        " apiKey: sk-test}}]\n"
        "tests: [{vars: {q: hi}, assert: [{type: contains, value: hi}]}]\n")
    outcome = await run_plan(load_config(cfg), llm=LLMClient(backoff_base_s=0.001))
    [result] = outcome.results
    assert result.status == "error" and result.error.startswith("auth")


# ---------------------------------------------------------------- the command
def test_eval_command_exit_codes_and_table(tmp_path):
    console, buf = recording_console()
    out = tmp_path / "out" / "results.json"
    code = eval_command(FIXTURES / "basic" / "promptfooconfig.yaml", out, console=console)
    assert code == EXIT_FAILED  # one test failed: promptfoo's exit code 100
    text = buf.getvalue()
    assert "FAIL" in text and "PASS" in text
    assert "language matrix" in text
    assert "8 passed, 1 failed, 0 errors" in text
    assert "tokens:" in text and "cost: $0.0000" in text and "duration:" in text
    data = json.loads(out.read_text())
    assert data["results"]["stats"]["failures"] == 1

    console, buf = recording_console()
    code = eval_command(FIXTURES / "allpass" / "promptfooconfig.yaml", None, console=console)
    assert code == EXIT_OK
    assert "2 passed, 0 failed, 0 errors" in buf.getvalue()


def test_eval_command_errors_exit_100_and_bad_config_exits_1(tmp_path):
    cfg = tmp_path / "promptfooconfig.yaml"
    cfg.write_text("prompts: ['x']\nproviders: [echo]\ntests: [{assert: [{type: regex}]}]\n")
    console, buf = recording_console()
    assert eval_command(cfg, None, console=console) == EXIT_FAILED
    assert "1 errors" in buf.getvalue() and "ERROR" in buf.getvalue()

    cfg.write_text("prompts: [x]\nproviders: [nope:model]\n")
    console, buf = recording_console()
    assert eval_command(cfg, None, console=console) == EXIT_USAGE
    assert "Config error" in buf.getvalue() and "providers[0].id" in buf.getvalue()

    cfg.write_text("prompts: [x]\nproviders: [echo]\n")
    console, buf = recording_console()
    assert eval_command(cfg, tmp_path / "out.html", console=console) == EXIT_USAGE
    assert "unsupported output type" in buf.getvalue()


def test_eval_command_csv_yaml_outputs_repeat_and_output_path(tmp_path):
    (tmp_path / "promptfooconfig.yaml").write_text(
        "prompts: ['Hi {{n}}']\nproviders: [echo]\noutputPath: [res.json, res.csv]\n"
        "evaluateOptions: {repeat: 2, maxConcurrency: 2}\n"
        "tests: [{vars: {n: [a, b]}, assert: [{type: contains, value: Hi}]}]\n")
    console, buf = recording_console()
    assert eval_command(tmp_path, None, console=console) == EXIT_OK
    data = json.loads((tmp_path / "res.json").read_text())
    assert len(data["results"]["results"]) == 4  # 2 cases × 2 repeats
    assert [r["testIdx"] for r in data["results"]["results"]] == [0, 1, 2, 3]
    lines = (tmp_path / "res.csv").read_text().splitlines()
    assert lines[0] == "n,[echo] Hi {{n}}"
    assert lines[1] == "a,[PASS] (1.00) Hi a"
    assert len(lines) == 5
    console, _ = recording_console()
    assert eval_command(tmp_path, tmp_path / "res.yaml", console=console, repeat=1) == EXIT_OK
    assert "evalId:" in (tmp_path / "res.yaml").read_text()


async def test_eval_command_inside_a_running_loop(tmp_path, stub):
    stub.reply("stub-model", answer)
    stub.reply("judge", json.dumps({"pass": False, "score": 0, "reason": "no"}))
    console, buf = recording_console()
    code = eval_command(matrix_config(tmp_path, stub), tmp_path / "r.json", console=console,
                        no_cache=True)
    assert code == EXIT_FAILED
    assert "2 passed, 3 failed, 0 errors" in buf.getvalue()


def test_eval_split_over_processes_gives_the_same_outcome(tmp_path):
    """``harness eval --workers 2``: the evaluations in two processes, the outcome (order,
    verdicts, outputs) as one process makes it; a small eval stays in one process."""
    from harness.promptfoo.parallel import workers_for

    cfg = tmp_path / "promptfooconfig.yaml"
    tests = "".join(f"  - vars: {{n: '{i}'}}\n    assert: [{{type: contains, value: '"
                    f"{i if i % 7 else 'never'}'}}]\n" for i in range(120))
    cfg.write_text("prompts: ['say {{n}}', 'tell {{n}}']\nproviders: [echo]\n"
                   f"tests:\n{tests}")
    outputs = {}
    for workers in (1, 2):
        out = tmp_path / f"out-{workers}.json"
        console, buf = recording_console()
        assert eval_command(cfg, out, console=console, workers=workers) == EXIT_FAILED
        assert "204 passed, 36 failed, 0 errors" in buf.getvalue()
        rows = json.loads(out.read_text())["results"]["results"]
        outputs[workers] = [(r["testIdx"], r["promptIdx"], r["success"],
                             r["response"]["output"]) for r in rows]
    assert outputs[1] == outputs[2] and len(outputs[2]) == 240
    assert workers_for(240, 2) == 2 and workers_for(150, 2) == 1 and workers_for(240, 1) == 1
