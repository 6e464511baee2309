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
