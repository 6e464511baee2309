"""Weighted rollout in the pure governance domain: starting, changing and ending an
environment's split, each under the prompt's policy like any move, and every other move
of the environment ending it (promoting the winner)."""

from __future__ import annotations

import pytest

from harness.events.registry_events import (
    PromotionApplied,
    PromotionApproved,
    PromotionProposed,
    PromptEnvironmentCleared,
    PromptEnvironmentMoved,
    PromptEnvironmentSplit,
    PromptEnvironmentSplitEnded,
    PromptVersionActivated,
)
from services.registry.domain import governance as g
from services.registry.domain import prompts as p
from services.registry.domain.errors import Invalid
from tests.unit.test_governance_domain import (
    APPROVAL,
    GATE,
    LATER,
    PASSED,
    REFUSED,
    apply,
    ctx,
    prompt,
)

NINETY_TEN = [{"version": 1, "weight": 90}, {"version": 2, "weight": 10}]


def split(state, environment="production", variants=NINETY_TEN, sticky_by="user"):
    events = g.decide(g.SplitEnvironment(environment, variants, sticky_by, "canary"), state,
                      ctx())
    return apply(state, events), events


def test_a_split_is_recorded_with_its_variants_and_key_source():
    state, [event] = split(prompt())
    assert event == PromptEnvironmentSplit(
        prompt_id="p1", environment="production", variants=NINETY_TEN, sticky_by="user",
        reason="canary")
    assert state.splits["production"].variants == NINETY_TEN
    assert state.active_version == 1  # the environment's own version stays in place
    # the same split again is a no-op; a changed one records what it replaced
    assert g.decide(g.SplitEnvironment("production", NINETY_TEN), state, ctx()) == []
    wider = [{"version": 1, "weight": 50}, {"version": 2, "weight": 50}]
    [changed] = g.decide(g.SplitEnvironment("production", wider), state, ctx())
    assert changed.variants == wider and changed.previous_variants == NINETY_TEN


@pytest.mark.parametrize("variants,environment,field", [
    ([{"version": 1, "weight": 90}, {"version": 7, "weight": 10}], "production",
     "variants[1].version"),
    ([{"version": 1, "weight": 90}, {"version": 2, "weight": 20}], "production", "variants"),
    ([{"version": 2, "weight": 100}], "production", "variants"),
    ([{"version": 1, "weight": 50}, {"version": 1, "weight": 50}], "production",
     "variants[1].version"),
    (NINETY_TEN, "staging", "environment"),  # staging points at no version
    (NINETY_TEN, "Bad Env", "environment"),
])
def test_a_bad_split_is_refused_naming_the_field(variants, environment, field):
    with pytest.raises(Invalid) as err:
        g.decide(g.SplitEnvironment(environment, variants), prompt(), ctx())
    assert err.value.extra["field"] == field


def test_a_governed_environment_is_split_only_through_an_approved_proposal():
    state = prompt()
    with pytest.raises(g.PolicyViolation):
        g.decide(g.SplitEnvironment("production", NINETY_TEN), state, ctx(APPROVAL))
    events = g.decide(g.Propose("m1", None, "production", "canary v2", LATER,
                                split={"variants": NINETY_TEN}), state,
                      ctx(APPROVAL, actor="alice"))
    assert [type(e) for e in events] == [PromotionProposed]
    assert events[0].version == 2  # the candidate: the heaviest variant not in place
    assert events[0].split == {"variants": NINETY_TEN, "sticky_by": "user"}
    state = apply(state, events)
    assert "production" not in state.splits
    events = g.decide(g.Approve("m1"), state, ctx(APPROVAL, actor="bob"))
    assert [type(e) for e in events] == [PromotionApproved, PromotionApplied,
                                         PromptEnvironmentSplit]
    assert events[-1].promotion_id == "m1"
    state = apply(state, events)
    assert state.splits["production"].variants == NINETY_TEN
    # ending it directly is refused too; proposing the winner ends it
    with pytest.raises(g.PolicyViolation):
        g.decide(g.EndSplit("production"), state, ctx(APPROVAL))
    with pytest.raises(g.PolicyViolation):
        g.decide(g.MoveEnvironment("production", 1), state, ctx(APPROVAL))
    state = apply(state, g.decide(g.Propose("m2", 2, "production", "v2 won", LATER), state,
                                  ctx(APPROVAL, actor="alice")))
    events = g.decide(g.Approve("m2"), state, ctx(APPROVAL, actor="bob"))
    assert [type(e) for e in events] == [PromotionApproved, PromotionApplied,
                                         PromptEnvironmentSplitEnded, PromptVersionActivated]
    state = apply(state, events)
    assert state.splits == {} and state.active_version == 2


def test_a_gate_checks_a_split_and_a_proposal_waits_for_its_evidence():
    state = prompt()
    with pytest.raises(g.GateFailed):
        g.decide(g.SplitEnvironment("production", NINETY_TEN), state, ctx(GATE, REFUSED))
    [event] = g.decide(g.SplitEnvironment("production", NINETY_TEN), state, ctx(GATE, PASSED))
    assert isinstance(event, PromptEnvironmentSplit)
    events = g.decide(g.Propose("m1", None, "production", "", LATER,
                                split={"variants": NINETY_TEN}, gate_run_id="run-1"),
                      state, ctx(GATE, None))
    assert [type(e) for e in events] == [PromotionProposed]  # waits for its gate run
    state = apply(state, events)
    events = g.decide(g.ApplyIfReady("m1"), state, ctx(GATE, PASSED))
    assert [type(e) for e in events] == [PromotionApplied, PromptEnvironmentSplit]


def test_moving_the_environment_promotes_the_winner_and_ends_the_split():
    state, _ = split(prompt())
    events = g.decide(g.MoveEnvironment("production", 2, "v2 won"), state, ctx())
    assert [type(e) for e in events] == [PromptEnvironmentSplitEnded, PromptVersionActivated]
    assert events[0].variants == NINETY_TEN and events[0].reason == "v2 won"
    assert apply(state, events).splits == {}
    # back to the version in place: only the split ends
    [ended] = g.decide(g.MoveEnvironment("production", 1), state, ctx())
    assert isinstance(ended, PromptEnvironmentSplitEnded)
    [ended] = g.decide(g.EndSplit("production", "rolled back"), state, ctx())
    assert isinstance(ended, PromptEnvironmentSplitEnded) and ended.reason == "rolled back"
    assert g.decide(g.EndSplit("staging"), state, ctx()) == []


def test_activating_a_version_ends_a_split_of_production():
    state, _ = split(prompt())
    events = p.decide(p.ActivateVersion(2, "v2 won"), state)
    assert [type(e) for e in events] == [PromptEnvironmentSplitEnded, PromptVersionActivated]
    [ended] = p.decide(p.ActivateVersion(1), state)  # the active one: the split ends
    assert isinstance(ended, PromptEnvironmentSplitEnded)
    events = p.decide(p.CreateVersion("v4", activate=True), state)
    assert [type(e) for e in events][1:] == [PromptEnvironmentSplitEnded,
                                             PromptVersionActivated]
    with pytest.raises(g.PolicyViolation):
        g.check_end_split(state, "production", ctx(APPROVAL))


def test_another_environment_splits_and_clearing_it_ends_the_split():
    state = prompt()
    state = apply(state, g.decide(g.MoveEnvironment("staging", 2), state, ctx()))
    state, _ = split(state, "staging", [{"version": 2, "weight": 0.5},
                                        {"version": 3, "weight": 0.5}], "header:x-user")
    assert set(state.splits) == {"staging"}
    events = g.decide(g.MoveEnvironment("staging", 3), state, ctx())
    assert [type(e) for e in events] == [PromptEnvironmentSplitEnded, PromptEnvironmentMoved]
    events = g.decide(g.ClearEnvironment("staging"), state, ctx())
    assert [type(e) for e in events] == [PromptEnvironmentSplitEnded,
                                         PromptEnvironmentCleared]
    assert apply(state, events).splits == {}


def test_the_candidate_of_a_split_proposal():
    state = prompt()
    assert g.split_candidate(state, "production", NINETY_TEN) == 2
    assert g.split_candidate(state, "production", [{"version": 2, "weight": 50},
                                                   {"version": 3, "weight": 50}]) == 3
    with pytest.raises(Invalid) as err:
        g.decide(g.Propose("m", None, "production", "", LATER), state, ctx())
    assert err.value.extra["field"] == "version"


def test_the_state_with_a_split_survives_a_snapshot():
    from services.registry.handlers.prompt_aggregate import PROMPT

    state, _ = split(prompt())
    state = apply(state, g.decide(g.Propose("m1", None, "production", "", LATER,
                                            split={"variants": NINETY_TEN}), state,
                                  ctx(APPROVAL, actor="alice")))
    assert PROMPT.decode(PROMPT.encode(state)) == state
