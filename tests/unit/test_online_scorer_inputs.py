"""What online evaluation reads from a stored trace (pure): the answer, the question, the
variables, and whether an evaluator selects it."""

from __future__ import annotations

from services.scorer.online import answer_of, question_of, selects, variables_of
from services.scorer.ports import FedTrace, OnlineEvaluator


def _trace(**kw) -> FedTrace:
    base = dict(id="00000000-0000-0000-0000-000000000001", position=("5", "x"),
                source="gateway", model_requested="app/support", model_answered="openai/a",
                application="support")
    return FedTrace(**{**base, **kw})


def test_answer_question_and_variables_of_stored_bodies():
    assert answer_of({"content": "hi"}) == "hi"
    assert answer_of({"choices": [{"message": {"content": "yo"}}]}) == "yo"
    assert answer_of({"content": [{"type": "text", "text": "a"}, {"text": "b"}]}) == "ab"
    assert answer_of(None) == "" and answer_of({}) == ""
    request = {"messages": [{"role": "system", "content": "be kind"},
                            {"role": "user", "content": "first"},
                            {"role": "assistant", "content": "ok"},
                            {"role": "user", "content": "[EMAIL] me"}],
               "variables": {"name": "[NAME]"}}
    assert question_of(request) == "[EMAIL] me"
    assert variables_of(request) == {"name": "[NAME]"}
    assert question_of({}) == "" and variables_of(None) == {}


def test_an_evaluator_selects_matching_sampled_traces():
    t = _trace()
    assert selects(OnlineEvaluator(id="e", name="n", traffic={"model": "openai/a"}), t)
    assert not selects(OnlineEvaluator(id="e", name="n", traffic={"application": "x"}), t)
    assert not selects(OnlineEvaluator(id="e", name="n", sampling_rate=0.0), t)
