"""Pure decisions of governed promotion: each command of ``domain.governance.decide`` and
each refusal, with the policy, gate evidence and clock given as its context."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from harness.events.registry_events import (
    PromotionApplied,
    PromotionApproved,
    PromotionGateEvaluated,
    PromotionProposed,
    PromotionRejected,
    PromotionSuperseded,
    PromptEnvironmentCleared,
    PromptEnvironmentMoved,
    PromptPolicySet,
    PromptVersionActivated,
)
from services.registry.domain import governance as g
from services.registry.domain import prompts as p
from services.registry.domain.errors import Invalid, NotFound

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
LATER = NOW + timedelta(hours=72)
PASSED = {"passed": True, "reasons": [], "run_id": "run-1"}
REFUSED = {"passed": False, "reasons": ["v2 passed 50.0% of cases, below 90.0%"]}
APPROVAL = {"require_approval": True, "environments": ["production", "staging"]}
GATE = {"environments": ["production"], "gate": {"dataset_id": "golden", "min_pass_rate": 0.9}}


def ctx(policy=None, gate=None, actor="bob", now=NOW) -> g.Context:
    return g.Context(policy=policy, now=now, actor=actor, gate=gate)


def apply(state: p.PromptState, events, actor="alice", at=NOW) -> p.PromptState:
    for e in events:
        state = p.evolve(state, e, at, actor)
    return state


def prompt(versions: int = 3) -> p.PromptState:
    """Prompt p1 with versions 1..n, version 1 active (production)."""
    state = apply(p.PromptState(), p.decide(p.CreatePrompt("p1", "greet", "v1"), p.PromptState()))
    for n in range(2, versions + 1):
        state = apply(state, p.decide(p.CreateVersion(f"v{n}"), state))
    return state


def proposed(state, promotion_id="m1", version=2, environment="production", *, context=None,
             actor="alice") -> p.PromptState:
    """``state`` with a pending proposal (decided under a policy needing approval)."""
    command = g.Propose(promotion_id, version, environment, "better", LATER)
    events = g.decide(command, state, context or ctx(APPROVAL, actor=actor))
    assert [type(e) for e in events] == [PromotionProposed]
    return apply(state, events, actor=actor)


def test_every_command_needs_the_prompt():
    for command in [g.SetPolicy({}), g.MoveEnvironment("staging", 1), g.ClearEnvironment("x"),
                    g.Propose("m", 1, "production", "", LATER), g.Approve("m"), g.Reject("m"),
                    g.ApplyIfReady("m")]:
        with pytest.raises(NotFound):
            g.decide(command, p.PromptState(), ctx())


def test_an_unknown_command_is_a_bug():
    with pytest.raises(TypeError):
        g.decide(object(), prompt(), ctx())


# ---- policies ------------------------------------------------------------------------------


def test_a_policy_is_set_with_its_defaults():
    [event] = g.decide(g.SetPolicy({"require_approval": True}), prompt(), ctx())
    assert event == PromptPolicySet(prompt_id="p1", policy={
        "require_approval": True, "environments": ["production"], "gate": None,
        "proposal_ttl_hours": 72})


@pytest.mark.parametrize("policy, field", [
    ({"approvers": ["x"]}, "policy"),
    ({"environments": ["Prod!"]}, "environment"),
    ({"gate": {"min_pass_rate": 0.9}}, "gate.dataset_id"),
    ({"gate": {"dataset_id": "d", "min_pass_rate": 1.5}}, "gate.min_pass_rate"),
    ({"proposal_ttl_hours": 0}, "proposal_ttl_hours"),
    ({"proposal_ttl_hours": g.MAX_TTL_HOURS + 1}, "proposal_ttl_hours"),
])
def test_a_bad_policy_is_refused_naming_the_field(policy, field):
    with pytest.raises(Invalid) as e:
        g.decide(g.SetPolicy(policy), prompt(), ctx())
    assert e.value.extra["field"] == field


def test_a_policy_governs_the_environments_it_names():
    assert g.governs({"environments": ["staging"]}, "staging")
    assert not g.governs({"environments": ["staging"]}, "production")
    assert g.governs({"require_approval": True}, "production")  # default: production
    assert not g.governs(None, "production")


# ---- moving and clearing environments ---------------------------------------------------------


def test_moving_production_activates_and_another_environment_points():
    state = prompt()
    [event] = g.decide(g.MoveEnvironment("production", 3, "hotfix"), state, ctx())
    assert event == PromptVersionActivated(prompt_id="p1", version=3, previous_version=1,
                                           reason="hotfix")
    [event] = g.decide(g.MoveEnvironment("staging", 2), state, ctx())
    assert event == PromptEnvironmentMoved(prompt_id="p1", environment="staging", version=2,
                                           previous_version=None, reason="")
    assert p.pointer(apply(state, [event]), "staging") == 2


def test_moving_to_where_it_points_is_a_noop_even_when_governed():
    assert g.decide(g.MoveEnvironment("production", 1), prompt(), ctx(APPROVAL)) == []


@pytest.mark.parametrize("command, error, field", [
    (g.MoveEnvironment("Staging", 2), Invalid, "environment"),
    (g.MoveEnvironment("staging", 9), NotFound, "version"),
])
def test_a_move_is_refused_naming_the_field(command, error, field):
    with pytest.raises(error) as e:
        g.decide(command, prompt(), ctx())
    assert e.value.extra["field"] == field


def test_a_direct_move_of_a_governed_environment_needs_a_proposal():
    with pytest.raises(g.PolicyViolation) as e:
        g.decide(g.MoveEnvironment("staging", 2), prompt(), ctx(APPROVAL))
    assert e.value.extra["policy"] == APPROVAL
    with pytest.raises(g.PolicyViolation):
        g.check_direct_move(prompt(), "production", ctx(APPROVAL))
    # an environment the policy does not name moves freely
    assert g.decide(g.MoveEnvironment("dev", 2), prompt(), ctx(APPROVAL))


@pytest.mark.parametrize("evidence", [None, REFUSED])
def test_a_gated_environment_moves_only_with_passing_evidence(evidence):
    with pytest.raises(g.GateFailed) as e:
        g.decide(g.MoveEnvironment("production", 2), prompt(), ctx(GATE, evidence))
    assert e.value.extra["gate"] == (evidence or {"passed": False, "reasons": ["no gate evidence"]})
    [event] = g.decide(g.MoveEnvironment("production", 2), prompt(), ctx(GATE, PASSED))
    assert isinstance(event, PromptVersionActivated)


def test_clearing_an_environment():
    state = apply(prompt(), g.decide(g.MoveEnvironment("staging", 2), prompt(), ctx()))
    [event] = g.decide(g.ClearEnvironment("staging", "done"), state, ctx())
    assert event == PromptEnvironmentCleared(prompt_id="p1", environment="staging",
                                             previous_version=2, reason="done")
    assert p.pointer(apply(state, [event]), "staging") is None
    assert g.decide(g.ClearEnvironment("qa"), state, ctx()) == []  # not set: nothing to do
    with pytest.raises(g.PolicyViolation):
        g.decide(g.ClearEnvironment("staging"), state, ctx(APPROVAL))


@pytest.mark.parametrize("environment", ["production", "no spaces"])
def test_production_and_bad_names_cannot_be_cleared(environment):
    with pytest.raises(Invalid) as e:
        g.decide(g.ClearEnvironment(environment), prompt(), ctx())
    assert e.value.extra["field"] == "environment"


# ---- proposals ----------------------------------------------------------------------------


def test_a_proposal_waits_for_an_approver_when_the_policy_asks_for_one():
    state = proposed(prompt())
    m = state.promotions["m1"]
    assert (m.status, m.version, m.environment, m.proposed_by) == ("pending", 2, "production",
                                                                   "alice")
    assert m.expires_at == LATER.isoformat()


@pytest.mark.parametrize("evidence", [None, REFUSED])
def test_a_gated_proposal_waits_for_passing_evidence(evidence):
    command = g.Propose("m1", 2, "production", "", LATER, gate_run_id="run-1")
    [event] = g.decide(command, prompt(), ctx(GATE, evidence))
    assert isinstance(event, PromotionProposed) and event.gate_run_id == "run-1"


def test_an_ungoverned_proposal_applies_at_once_and_supersedes_the_others():
    state = proposed(prompt(), "old")
    events = g.decide(g.Propose("m2", 3, "production", "now", LATER), state, ctx(GATE, PASSED))
    assert [type(e) for e in events] == [PromotionProposed, PromotionApplied,
                                         PromptVersionActivated, PromotionSuperseded]
    assert events[1].gate == PASSED
    assert events[3] == PromotionSuperseded(prompt_id="p1", promotion_id="old",
                                            by_promotion_id="m2")
    after = apply(state, events)
    assert after.active_version == 3
    assert after.promotions["old"].status == "superseded"
    assert after.promotions["m2"].status == "applied"


def test_an_applied_proposal_moves_another_environment_with_its_promotion_id():
    events = g.decide(g.Propose("m1", 2, "staging", "", LATER), prompt(), ctx())
    assert events[-1] == PromptEnvironmentMoved(
        prompt_id="p1", environment="staging", version=2, previous_version=None,
        reason="promotion m1", promotion_id="m1")


@pytest.mark.parametrize("command, error, field", [
    (g.Propose("m", 2, "Prod", "", LATER), Invalid, "environment"),
    (g.Propose("m", 9, "production", "", LATER), NotFound, "version"),
    (g.Propose("m", 2, "production", "", NOW), Invalid, "expires_at"),
])
def test_a_proposal_is_refused_naming_the_field(command, error, field):
    with pytest.raises(error) as e:
        g.decide(command, prompt(), ctx())
    assert e.value.extra["field"] == field


# ---- approval and rejection ---------------------------------------------------------------


def test_another_person_approves_and_the_proposal_applies():
    events = g.decide(g.Approve("m1", "ok"), proposed(prompt()), ctx(APPROVAL, actor="bob"))
    assert [type(e) for e in events] == [PromotionApproved, PromotionApplied,
                                         PromptVersionActivated]
    assert events[0].comment == "ok"
    after = apply(proposed(prompt()), events, actor="bob")
    assert after.active_version == 2
    assert (after.promotions["m1"].status, after.promotions["m1"].decided_by) == ("applied",
                                                                                "bob")


def test_the_author_cannot_approve_their_own_proposal():
    with pytest.raises(g.SelfApproval):
        g.decide(g.Approve("m1"), proposed(prompt()), ctx(APPROVAL, actor="alice"))


def test_an_approval_of_a_gated_environment_needs_passing_evidence():
    policy = {**APPROVAL, "gate": {"dataset_id": "golden"}}
    state = proposed(prompt(), context=ctx(policy))
    with pytest.raises(g.GateFailed):
        g.decide(g.Approve("m1"), state, ctx(policy, REFUSED))
    events = g.decide(g.Approve("m1"), state, ctx(policy, PASSED))
    assert events[0].gate == PASSED and isinstance(events[-1], PromptVersionActivated)


def test_a_rejection_closes_the_proposal():
    [event] = g.decide(g.Reject("m1", "not yet"), proposed(prompt()), ctx(APPROVAL))
    assert event == PromotionRejected(prompt_id="p1", promotion_id="m1", comment="not yet")
    after = apply(proposed(prompt()), [event], actor="bob")
    assert (after.promotions["m1"].status, after.promotions["m1"].comment) == ("rejected",
                                                                               "not yet")


@pytest.mark.parametrize("decision", [g.Approve, g.Reject])
def test_only_an_open_proposal_is_decided(decision):
    state = proposed(prompt())
    with pytest.raises(NotFound):
        g.decide(decision("nope"), state, ctx(APPROVAL))
    with pytest.raises(g.PromotionClosed, match="expired"):
        g.decide(decision("m1"), state, ctx(APPROVAL, now=LATER))
    rejected = apply(state, g.decide(g.Reject("m1"), state, ctx(APPROVAL)))
    with pytest.raises(g.PromotionClosed, match="is rejected"):
        g.decide(decision("m1"), rejected, ctx(APPROVAL))


# ---- after a gate run ---------------------------------------------------------------------


def test_a_gated_proposal_applies_when_its_gate_run_passes():
    state = proposed(prompt(), context=ctx(GATE))
    events = g.decide(g.ApplyIfReady("m1"), state, ctx(GATE, PASSED))
    assert [type(e) for e in events] == [PromotionApplied, PromptVersionActivated]


def test_a_gated_proposal_is_rejected_when_its_gate_run_fails():
    state = proposed(prompt(), context=ctx(GATE))
    [event] = g.decide(g.ApplyIfReady("m1"), state, ctx(GATE, REFUSED))
    assert event == PromotionRejected(prompt_id="p1", promotion_id="m1",
                                      comment="the eval gate refused", gate=REFUSED)


def test_a_proposal_needing_approval_records_new_gate_evidence_once():
    policy = {**APPROVAL, "gate": {"dataset_id": "golden"}}
    state = proposed(prompt(), context=ctx(policy))
    assert g.decide(g.ApplyIfReady("m1"), state, ctx(policy, None)) == []
    [event] = g.decide(g.ApplyIfReady("m1"), state, ctx(policy, REFUSED))
    assert event == PromotionGateEvaluated(prompt_id="p1", promotion_id="m1", gate=REFUSED)
    seen = apply(state, [event])
    assert g.decide(g.ApplyIfReady("m1"), seen, ctx(policy, REFUSED)) == []  # a redelivery


def test_a_closed_expired_or_unknown_proposal_is_left_alone_after_a_gate_run():
    state = proposed(prompt(), context=ctx(GATE))
    assert g.decide(g.ApplyIfReady("nope"), state, ctx(GATE, PASSED)) == []
    assert g.decide(g.ApplyIfReady("m1"), state, ctx(GATE, PASSED, now=LATER)) == []
    applied = apply(state, g.decide(g.ApplyIfReady("m1"), state, ctx(GATE, PASSED)))
    assert g.decide(g.ApplyIfReady("m1"), applied, ctx(GATE, PASSED)) == []


def test_the_global_default_policy_is_checked_like_a_prompts():
    [event] = g.set_global_policy({"environments": ["staging"]})
    assert event == PromptPolicySet(prompt_id=None, policy={
        "require_approval": False, "environments": ["staging"], "gate": None,
        "proposal_ttl_hours": 72})
    with pytest.raises(Invalid):
        g.set_global_policy({"gate": {}})
