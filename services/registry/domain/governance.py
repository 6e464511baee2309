"""Governed promotion, pure: environments, policies, proposals, approvals and the eval gate.

The command handler computes what needs I/O (the effective policy including the global
default, the gate's evidence from runs, the clock) and passes it in; ``decide`` only
applies the rules:

- ``production`` is the active version; other named environments point at versions and
  can be cleared (production cannot);
- a policy governs some environments: ``require_approval`` refuses direct moves (409),
  and a ``gate`` requires passing evidence before a version reaches them;
- a proposal is approved by a different person, before it expires; only an approved (or
  ungoverned) proposal moves the pointer; applying one supersedes the other pending
  proposals for that environment;
- an environment can be split between versions by weight (``harness.rollout``); starting
  or changing a split is a move like any other (approval, a gate on each new version),
  and any move of the environment ends its split (promoting the winner).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from harness import rollout
from harness.events.base import DomainEvent
from harness.events.registry_events import (
    PromotionApplied,
    PromotionApproved,
    PromotionGateEvaluated,
    PromotionProposed,
    PromotionRejected,
    PromotionSuperseded,
    PromptEnvironmentCleared,
    PromptEnvironmentMoved,
    PromptEnvironmentSplit,
    PromptPolicySet,
    PromptVersionActivated,
)

from .errors import DomainError, Invalid, NotFound
from .prompts import PRODUCTION, PromptState, end_split, pointer

ENV_NAME_PATTERN = r"^[a-z][a-z0-9_-]{0,39}$"
_ENV_NAME = re.compile(ENV_NAME_PATTERN)


class PolicyViolation(DomainError):
    """The prompt's policy does not allow this move directly (propose it)."""


class GateFailed(DomainError):
    """The eval gate's evidence does not let the version through; ``gate`` has it."""


class SelfApproval(DomainError):
    """A proposal is approved by someone other than its author."""


class PromotionClosed(DomainError):
    """The proposal was already decided, applied, superseded, or it expired."""


def check_environment(name: str) -> str:
    if not _ENV_NAME.match(name):
        raise Invalid("environment: a lower-case letter, then lower-case letters, digits, "
                      "- and _ (at most 40 characters)", field="environment")
    return name


MAX_TTL_HOURS = 24 * 366 * 10
"""Ten years: any longer and the expiry date overflows what a datetime can hold."""


def validate_policy(policy: dict[str, Any]) -> dict[str, Any]:
    allowed = {"require_approval", "environments", "gate", "proposal_ttl_hours"}
    unknown = set(policy) - allowed
    if unknown:
        raise Invalid(f"policy: unknown field(s) {', '.join(sorted(unknown))}", field="policy")
    envs = policy.get("environments") or [PRODUCTION]
    for env in envs:
        check_environment(env)
    gate = policy.get("gate")
    if gate is not None:
        if not isinstance(gate, dict) or not gate.get("dataset_id"):
            raise Invalid("policy.gate: needs dataset_id (a verified golden dataset)",
                          field="gate.dataset_id")
        rate = gate.get("min_pass_rate", 1.0)
        if not isinstance(rate, int | float) or not 0 <= rate <= 1:
            raise Invalid("policy.gate.min_pass_rate: between 0 and 1",
                          field="gate.min_pass_rate")
    ttl = policy.get("proposal_ttl_hours", 72)
    if not isinstance(ttl, int | float) or not 0 < ttl <= MAX_TTL_HOURS:
        raise Invalid(f"policy.proposal_ttl_hours: a positive number up to {MAX_TTL_HOURS}",
                      field="proposal_ttl_hours")
    return {"require_approval": bool(policy.get("require_approval", False)),
            "environments": list(envs), "gate": gate, "proposal_ttl_hours": ttl}


def set_global_policy(policy: dict[str, Any]) -> list[DomainEvent]:
    """The default policy of every prompt without one of its own (its own stream)."""
    return [PromptPolicySet(prompt_id=None, policy=validate_policy(policy))]


def governs(policy: dict[str, Any] | None, environment: str) -> bool:
    return bool(policy) and environment in (policy.get("environments") or [PRODUCTION])


@dataclass(frozen=True)
class Context:
    """What the handler found out: the effective policy, gate evidence, the time."""

    policy: dict[str, Any] | None
    now: datetime
    actor: str | None
    gate: dict[str, Any] | None = None  # {"passed": bool, "reasons": [...], ...}


@dataclass(frozen=True)
class MoveEnvironment:
    environment: str
    version: int
    reason: str = ""


@dataclass(frozen=True)
class ClearEnvironment:
    environment: str
    reason: str = ""


@dataclass(frozen=True)
class SplitEnvironment:
    """Split an environment's traffic between versions by weight (or change its split)."""

    environment: str
    variants: list[dict[str, Any]]
    sticky_by: str = rollout.DEFAULT_STICKY_BY
    reason: str = ""


@dataclass(frozen=True)
class EndSplit:
    """End an environment's split: every request gets the environment's version again.
    (Moving the environment to a version also ends it: that is promoting the winner.)"""

    environment: str
    reason: str = ""


@dataclass(frozen=True)
class SetPolicy:
    policy: dict[str, Any]


@dataclass(frozen=True)
class Propose:
    """``version``: move ``environment`` there; or ``split`` (``{"variants",
    "sticky_by"}``, ``version`` then None): split it."""

    promotion_id: str
    version: int | None
    environment: str
    reason: str
    expires_at: datetime
    gate_run_id: str | None = None
    split: dict[str, Any] | None = None


@dataclass(frozen=True)
class Approve:
    promotion_id: str
    comment: str = ""


@dataclass(frozen=True)
class Reject:
    promotion_id: str
    comment: str = ""


@dataclass(frozen=True)
class ApplyIfReady:
    """After a gate run completed: apply a pending proposal that needs no approval."""

    promotion_id: str


def _gate_ok(ctx: Context, environment: str) -> None:
    gate = (ctx.policy or {}).get("gate")
    if not gate or not governs(ctx.policy, environment):
        return
    evidence = ctx.gate or {"passed": False, "reasons": ["no gate evidence"]}
    if not evidence.get("passed"):
        raise GateFailed("the eval gate refused: " + "; ".join(evidence.get("reasons", [])),
                         gate=evidence)


def _move(state: PromptState, environment: str, version: int, reason: str,
          promotion_id: str | None = None) -> list[DomainEvent]:
    """Point ``environment`` at ``version``, ending its split (promoting the winner)."""
    assert state.prompt_id is not None
    ended = end_split(state, environment, reason, promotion_id)
    current = pointer(state, environment)
    if current == version:
        return ended
    if environment == PRODUCTION:
        return [*ended, PromptVersionActivated(prompt_id=state.prompt_id, version=version,
                                               previous_version=current, reason=reason,
                                               promotion_id=promotion_id)]
    return [*ended, PromptEnvironmentMoved(
        prompt_id=state.prompt_id, environment=environment, version=version,
        previous_version=current, reason=reason, promotion_id=promotion_id)]


def check_direct_move(state: PromptState, environment: str, ctx: Context) -> None:
    """A move that is not a promotion (activate, create-and-activate, PUT environment)."""
    if _needs_approval(ctx, environment):
        raise PolicyViolation(
            f"the prompt's policy requires approval to move {environment}: propose it with "
            "POST /prompts/{id}/promotions", policy=ctx.policy)
    _gate_ok(ctx, environment)


def check_end_split(state: PromptState, environment: str, ctx: Context) -> None:
    """Ending a split back to the environment's version: no gate (that version is in
    place), but a governed environment changes only through an approved proposal."""
    if _needs_approval(ctx, environment):
        raise PolicyViolation(
            f"the prompt's policy requires approval to end the split of {environment}: "
            f"propose the version that wins (POST /prompts/{{id}}/promotions)",
            policy=ctx.policy)


def check_split(state: PromptState, environment: str, split: dict[str, Any]
                ) -> tuple[list[dict[str, Any]], str]:
    """A split's variants and ``sticky_by``, valid for this prompt: weights (positive, sum
    100 or 1), at least two distinct versions that exist, and an environment that points
    at a version (what requests without a stickiness key get)."""
    try:
        variants, sticky_by = rollout.validate(split.get("variants"),
                                               split.get("sticky_by",
                                                         rollout.DEFAULT_STICKY_BY))
    except rollout.SplitInvalid as exc:
        raise Invalid(str(exc), field=exc.field) from exc
    for i, v in enumerate(variants):
        if v["version"] not in state.versions:
            raise Invalid(f"variants[{i}].version: prompt has no version {v['version']}",
                          field=f"variants[{i}].version")
    if pointer(state, environment) is None:
        raise Invalid(f"environment: {environment} points at no version; move it to one "
                      "first (requests without a stickiness key get it)",
                      field="environment")
    return variants, sticky_by


def split_candidate(state: PromptState, environment: str,
                    variants: list[dict[str, Any]]) -> int:
    """The version a split proposal is about: its heaviest variant other than the
    environment's version (a later one on a tie)."""
    current = pointer(state, environment)
    others = [v for v in variants if v["version"] != current] or variants
    return max(others, key=lambda v: (v["weight"], v["version"]))["version"]


def _split_events(state: PromptState, environment: str, variants: list[dict[str, Any]],
                  sticky_by: str, reason: str,
                  promotion_id: str | None = None) -> list[DomainEvent]:
    assert state.prompt_id is not None
    before = state.splits.get(environment)
    if before is not None and before.variants == variants and before.sticky_by == sticky_by:
        return []
    return [PromptEnvironmentSplit(
        prompt_id=state.prompt_id, environment=environment, variants=variants,
        sticky_by=sticky_by, previous_variants=before.variants if before else None,
        reason=reason, promotion_id=promotion_id)]


def _apply(state: PromptState, promotion_id: str, ctx: Context) -> list[DomainEvent]:
    assert state.prompt_id is not None
    p = state.promotions[promotion_id]
    events: list[DomainEvent] = [PromotionApplied(prompt_id=state.prompt_id,
                                                  promotion_id=promotion_id, gate=ctx.gate)]
    reason = p.reason or f"promotion {promotion_id}"
    if p.split is not None:
        events += _split_events(state, p.environment, p.split["variants"],
                                p.split["sticky_by"], reason, promotion_id)
    else:
        events += _move(state, p.environment, p.version, reason, promotion_id)
    for other in state.promotions.values():
        if other.promotion_id != promotion_id and other.environment == p.environment \
                and other.status in ("pending", "approved"):
            events.append(PromotionSuperseded(prompt_id=state.prompt_id,
                                              promotion_id=other.promotion_id,
                                              by_promotion_id=promotion_id))
    return events


def _open(state: PromptState, promotion_id: str, ctx: Context):
    p = state.promotions.get(promotion_id)
    if p is None:
        raise NotFound(f"promotion {promotion_id} not found")
    if p.status != "pending":
        raise PromotionClosed(f"promotion {promotion_id} is {p.status}")
    if datetime.fromisoformat(p.expires_at) <= ctx.now:
        raise PromotionClosed(f"promotion {promotion_id} expired at {p.expires_at}")
    return p


def decide(command, state: PromptState, ctx: Context) -> list[DomainEvent]:
    if not state.exists:
        raise NotFound("prompt not found")
    decision = _DECISIONS.get(type(command))
    if decision is None:
        raise TypeError(f"unknown command {command!r}")
    return decision(command, state, ctx)


def _needs_approval(ctx: Context, environment: str) -> bool:
    return governs(ctx.policy, environment) and bool(ctx.policy.get("require_approval"))


def _check_version(state: PromptState, version: int) -> None:
    if version not in state.versions:
        raise NotFound(f"prompt has no version {version}", field="version")


def _set_policy(command: SetPolicy, state: PromptState, ctx: Context) -> list[DomainEvent]:
    return [PromptPolicySet(prompt_id=state.prompt_id, policy=validate_policy(command.policy))]


def _move_environment(command: MoveEnvironment, state: PromptState,
                      ctx: Context) -> list[DomainEvent]:
    env = check_environment(command.environment)
    _check_version(state, command.version)
    if pointer(state, env) == command.version:
        if env not in state.splits:
            return []
        check_end_split(state, env, ctx)
        return _move(state, env, command.version, command.reason)
    check_direct_move(state, env, ctx)
    return _move(state, env, command.version, command.reason)


def _split_environment(command: SplitEnvironment, state: PromptState,
                       ctx: Context) -> list[DomainEvent]:
    env = check_environment(command.environment)
    variants, sticky_by = check_split(state, env, {"variants": command.variants,
                                                   "sticky_by": command.sticky_by})
    events = _split_events(state, env, variants, sticky_by, command.reason)
    if events:
        check_direct_move(state, env, ctx)
    return events


def _end_split(command: EndSplit, state: PromptState, ctx: Context) -> list[DomainEvent]:
    env = check_environment(command.environment)
    if env not in state.splits:
        return []
    check_end_split(state, env, ctx)
    return end_split(state, env, command.reason)


def _clear_environment(command: ClearEnvironment, state: PromptState,
                       ctx: Context) -> list[DomainEvent]:
    env = check_environment(command.environment)
    if env == PRODUCTION:
        raise Invalid("production cannot be cleared: it is the active version; "
                      "activate another version instead", field="environment")
    if env not in state.environments:
        return []
    if _needs_approval(ctx, env):
        raise PolicyViolation(f"the prompt's policy governs {env}", policy=ctx.policy)
    return [*end_split(state, env, command.reason),
            PromptEnvironmentCleared(prompt_id=state.prompt_id, environment=env,
                                     previous_version=state.environments[env],
                                     reason=command.reason)]


def _propose(command: Propose, state: PromptState, ctx: Context) -> list[DomainEvent]:
    env = check_environment(command.environment)
    split = None
    if command.split is not None:
        variants, sticky_by = check_split(state, env, command.split)
        split = {"variants": variants, "sticky_by": sticky_by}
        version = split_candidate(state, env, variants)
    elif command.version is None:
        raise Invalid("version: propose a version, or a split", field="version")
    else:
        version = command.version
        _check_version(state, version)
    if command.expires_at <= ctx.now:
        raise Invalid("expires_at: must be in the future", field="expires_at")
    proposed = PromotionProposed(prompt_id=state.prompt_id, promotion_id=command.promotion_id,
                                 version=version, environment=env,
                                 reason=command.reason,
                                 expires_at=command.expires_at.isoformat(),
                                 gate_run_id=command.gate_run_id, split=split)
    gated = governs(ctx.policy, env) and (ctx.policy or {}).get("gate")
    if _needs_approval(ctx, env) or (gated and not (ctx.gate or {}).get("passed")):
        return [proposed]  # waits for an approver, or for its gate run
    after = evolve_all(state, [proposed], ctx)
    return [proposed, *_apply(after, command.promotion_id, ctx)]


def _approve(command: Approve, state: PromptState, ctx: Context) -> list[DomainEvent]:
    p = _open(state, command.promotion_id, ctx)
    if ctx.actor is not None and ctx.actor == p.proposed_by:
        raise SelfApproval("a proposal must be approved by someone other than its author")
    _gate_ok(ctx, p.environment)
    approved = PromotionApproved(prompt_id=state.prompt_id, promotion_id=p.promotion_id,
                                 comment=command.comment, gate=ctx.gate)
    after = evolve_all(state, [approved], ctx)
    return [approved, *_apply(after, p.promotion_id, ctx)]


def _reject(command: Reject, state: PromptState, ctx: Context) -> list[DomainEvent]:
    p = _open(state, command.promotion_id, ctx)
    return [PromotionRejected(prompt_id=state.prompt_id, promotion_id=p.promotion_id,
                              comment=command.comment, gate=ctx.gate)]


def _apply_if_ready(command: ApplyIfReady, state: PromptState,
                    ctx: Context) -> list[DomainEvent]:
    p = state.promotions.get(command.promotion_id)
    if p is None or p.status != "pending" or datetime.fromisoformat(p.expires_at) <= ctx.now:
        return []
    if _needs_approval(ctx, p.environment):
        # an approver decides, with the evidence in front of them: record it now
        if ctx.gate is None or ctx.gate == p.gate:  # no gate, or seen (redelivery)
            return []
        return [PromotionGateEvaluated(prompt_id=state.prompt_id, promotion_id=p.promotion_id,
                                       gate=ctx.gate)]
    if not (ctx.gate or {}).get("passed"):
        return [PromotionRejected(prompt_id=state.prompt_id, promotion_id=p.promotion_id,
                                  comment="the eval gate refused", gate=ctx.gate)]
    return _apply(state, p.promotion_id, ctx)


_DECISIONS: dict[type, Callable[[Any, PromptState, Context], list[DomainEvent]]] = {
    SetPolicy: _set_policy, MoveEnvironment: _move_environment,
    SplitEnvironment: _split_environment, EndSplit: _end_split,
    ClearEnvironment: _clear_environment, Propose: _propose, Approve: _approve,
    Reject: _reject, ApplyIfReady: _apply_if_ready,
}


def evolve_all(state: PromptState, events: list[DomainEvent], ctx: Context) -> PromptState:
    from .prompts import evolve

    for e in events:
        state = evolve(state, e, ctx.now, ctx.actor)
    return state
