"""Model-graded promptfoo types through harness's LLMClient (LiteLLM) against the loopback
stub judge: the grading prompts reach the judge and its answers make the verdicts."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.llm import LLMClient
from harness.promptfoo import load_config, run_plan
from tests.support.stub_llm import StubLLM

CONFIG = """\
prompts: ["{{question}}"]
providers: [echo]
defaultTest:
  options:
    provider:
      id: openai:chat:judge
      config: {apiBaseUrl: __STUB__, apiKey: sk-test}
tests:
  - vars: {question: "What is the capital of France?"}
    assert:
      - {type: factuality, value: Paris}
      - {type: model-graded-closedqa, value: mentions France}
  - vars: {question: "Capital?", query: "Capital of France?", context: "Paris is the capital."}
    assert:
      - {type: context-recall, value: Paris is the capital., threshold: 0.9}
  - vars: {question: "let's fight"}
    assert:
      - type: moderation
        provider:
          id: openai:moderation:omni-moderation-latest
          config: {apiBaseUrl: __STUB__, apiKey: sk-test}
  - vars: {question: hello}
    assert:
      - type: g-eval
        value: is polite
"""


def judge(body: dict) -> str:
    prompt = body["messages"][-1]["content"]
    if "expert answer" in prompt:
        return '{"category": "A", "reason": "consistent"}'
    if "criterion" in prompt.lower() and "Y (it meets" in prompt:
        return "It asks about France.\nY"
    if "[Attributed]" in prompt:
        return "1. Paris is the capital. [Not Attributed] not in the context"
    if '"steps"' in prompt:
        return '{"steps": ["Is it polite?"]}'
    return '{"score": 9, "reason": "polite"}'


@pytest.fixture
def stub():
    with StubLLM() as server:
        server.reply("judge", judge)
        server.moderation_words = {"violence": "fight"}
        yield server


async def test_model_graded_types_through_the_stub_judge(tmp_path: Path, stub):
    cfg = tmp_path / "promptfooconfig.yaml"
    cfg.write_text(CONFIG.replace("__STUB__", stub.base_url))
    outcome = await run_plan(load_config(cfg), llm=LLMClient(cache=False))
    by_case = {r.case_id: r for r in outcome.results}
    first = by_case["case-0001"]
    assert first.status == "pass", first.reason
    assert [a["type"] for a in first.assertions] == ["factuality", "model-graded-closedqa"]
    assert by_case["case-0002"].status == "fail"
    assert by_case["case-0002"].assertions[0]["score"] == 0.0
    moderated = by_case["case-0003"]
    assert moderated.status == "fail" and "violence" in moderated.assertions[0]["reason"]
    assert by_case["case-0004"].status == "pass"
    assert by_case["case-0004"].assertions[0]["score"] == pytest.approx(0.9)
    judged = [r for r in stub.chat_requests if r.model == "judge"]
    assert any("What is the capital of France?" in r.body["messages"][-1]["content"]
               for r in judged)
    assert any(r.path.endswith("/moderations") for r in stub.requests)


SELECT_BEST = """\
prompts: ["Short: {{topic}}", "Long answer about {{topic}}, with details"]
providers: [echo]
defaultTest:
  options:
    provider:
      id: openai:chat:judge
      config: {apiBaseUrl: __STUB__, apiKey: sk-test}
tests:
  - vars: {topic: tides}
    assert:
      - {type: contains, value: tides}
      - {type: select-best, value: the most detailed answer}
  - vars: {topic: moon}
    assert:
      - {type: select-best, value: the most detailed answer}
"""


async def test_select_best_asks_the_judge_once_per_test_and_marks_the_winner(tmp_path: Path):
    with StubLLM() as server:
        server.reply("judge", lambda body: "1" if "tides" in body["messages"][-1]["content"]
                     else "The best is 7")
        cfg = tmp_path / "promptfooconfig.yaml"
        cfg.write_text(SELECT_BEST.replace("__STUB__", server.base_url))
        outcome = await run_plan(load_config(cfg), llm=LLMClient(cache=False))
        judged = [r for r in server.chat_requests if r.model == "judge"]
    by = {(r.case_id, r.target_id): r for r in outcome.results}
    assert len(judged) == 2  # one comparison per test, not one per output
    assert "Short: tides" in judged[0].body["messages"][-1]["content"] or \
        "Short: tides" in judged[1].body["messages"][-1]["content"]
    short, long = by[("case-0001", "t0")], by[("case-0001", "t1")]
    assert (short.status, long.status) == ("fail", "pass")
    assert [a["type"] for a in long.assertions] == ["contains", "select-best"]
    assert short.reason.startswith("Output not selected") and short.score == 0.0
    # an index out of range fails every output of that test (promptfoo's rule)
    assert {by[("case-0002", t)].status for t in ("t0", "t1")} == {"fail"}
    assert "Invalid select-best verdict: 7" in by[("case-0002", "t0")].reason
