"""Governed promotion: environments, policies, proposals and their decisions.

Each command is decided on the prompt's stream with what ``domain.governance`` needs
looked up under the stream's lock: the effective policy (the prompt's, else the global
default), the gate's evidence for the version and environment at stake, and the clock.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import asyncpg

from harness.events import EventMetadata, StoredEvent, streams
from harness.events.base import DomainEvent

from .. import reactions
from ..commands import FromReadModel, pure
from ..domain import governance as domain
from ..domain.errors import Invalid, NotFound
from ..domain.prompts import PromptState, pointer
from ..gate import gate_evidence
from ..read.queries import composition
from ..schemas import RunCreate, TargetSpec
from . import runs as run_handlers
from .prompt_aggregate import PROMPT

if TYPE_CHECKING:
    from ..runtime import Runtime

async def effective_policy(conn: asyncpg.Connection, state: PromptState) -> dict | None:
    if state.policy:
        return state.policy
    return await conn.fetchval("SELECT policy FROM prompt_policies WHERE scope = '*'")


async def context(conn: asyncpg.Connection, state: PromptState, metadata: EventMetadata,
                  version: int | list[int] | None, environment: str | None,
                  gate_run_id: str | None = None) -> domain.Context:
    """What a decision on ``version`` reaching ``environment`` needs to know. For a split,
    ``version`` lists its variants: the gate's evidence is then each variant's other than
    the version in place, and it passes when every one does."""
    policy = await effective_policy(conn, state)
    evidence = None
    if (version is not None and environment is not None and policy
            and policy.get("gate") and domain.governs(policy, environment)):
        incumbent = pointer(state, environment)
        if isinstance(version, int):
            evidence = await gate_evidence(
                conn, prompt_id=state.prompt_id, version=version, incumbent=incumbent,
                gate=policy["gate"], run_id=gate_run_id)
        else:
            evidence = await _split_evidence(conn, state, version, incumbent, policy["gate"],
                                             gate_run_id)
    return domain.Context(policy=policy, now=datetime.now(UTC), actor=metadata.actor,
                          gate=evidence)


async def _split_evidence(conn: asyncpg.Connection, state: PromptState, versions: list[int],
                          incumbent: int | None, gate: dict[str, Any],
                          gate_run_id: str | None) -> dict[str, Any]:
    each = [await gate_evidence(conn, prompt_id=state.prompt_id, version=v,
                                incumbent=incumbent, gate=gate, run_id=gate_run_id)
            for v in dict.fromkeys(versions) if v != incumbent]
    return {"passed": all(e["passed"] for e in each),
            "reasons": [r for e in each for r in e.get("reasons", [])],
            "incumbent_version": incumbent, "variants": each}


def _split_versions(split: dict[str, Any] | None) -> list[int] | None:
    if not isinstance(split, dict) or not isinstance(split.get("variants"), list):
        return None
    return [v["version"] for v in split["variants"]
            if isinstance(v, dict) and isinstance(v.get("version"), int)]


def _at_stake(command, state: PromptState
              ) -> tuple[int | list[int] | None, str | None, str | None]:
    """The version (a split's versions), environment and gate run a command is about."""
    if isinstance(command, domain.SplitEnvironment):
        return _split_versions({"variants": command.variants}), command.environment, None
    if isinstance(command, domain.Propose) and command.split is not None:
        return _split_versions(command.split), command.environment, command.gate_run_id
    if isinstance(command, domain.MoveEnvironment | domain.Propose):
        return command.version, command.environment, getattr(command, "gate_run_id", None)
    if isinstance(command, domain.Approve | domain.ApplyIfReady | domain.Reject):
        p = state.promotions.get(command.promotion_id)
        if p is not None:
            if p.split is not None:
                return _split_versions(p.split), p.environment, p.gate_run_id
            return p.version, p.environment, p.gate_run_id
    return None, None, None


async def govern(rt: Runtime, prompt_id: str, command, metadata: EventMetadata,
                 ) -> tuple[PromptState, list[StoredEvent]]:
    async def decide(conn: asyncpg.Connection, state: PromptState) -> list[DomainEvent]:
        if not state.exists:
            raise NotFound(f"prompt {prompt_id} not found")
        at_stake = _at_stake(command, state)
        if isinstance(command, domain.MoveEnvironment | domain.Approve
                      | domain.SplitEnvironment):  # a version (or a split's) takes the place
            stake = at_stake[0]
            for number in stake if isinstance(stake, list | tuple) else [stake]:
                await composition.refuse_cycle(conn, state, number)
        ctx = await context(conn, state, metadata, *at_stake)
        return domain.decide(command, state, ctx)

    # a move tells the prompts that reference this one, in its transaction
    locked = await reactions.dependent_streams(rt.pool, prompt_id)
    return await rt.commands.execute(streams.prompt(prompt_id), PROMPT, decide, metadata,
                                     also_lock=locked, react=reactions.references_moved(locked))


@dataclass(frozen=True)
class GateRun:
    """Request the gate run with a proposal: candidate and current version on the gate's
    dataset, on this model (None: each version's config model)."""

    model: str | None
    params: dict[str, Any] = field(default_factory=dict)
    concurrency: int = 4


async def propose(rt: Runtime, prompt_id: str, version: int | None, environment: str,
                  reason: str, metadata: EventMetadata, gate_run: GateRun | None = None,
                  split: dict[str, Any] | None = None) -> tuple[PromptState, str]:
    """A proposal to move ``environment`` to ``version``, or to ``split`` it (with its gate
    run requested when asked); it expires after the policy's ``proposal_ttl_hours``.
    Returns the state after and the promotion's id."""
    async with rt.pool.acquire() as conn:
        state = (await PROMPT.load(conn, rt.store, streams.prompt(prompt_id))).state
        if not state.exists:
            raise NotFound(f"prompt {prompt_id} not found")
        policy = await effective_policy(conn, state)
    gate_run_id = None
    if gate_run is not None:
        if split is not None:  # checked before a run is requested for it
            domain.check_split(state, domain.check_environment(environment), split)
        versions = _split_versions(split) if split is not None else [version]
        gate_run_id = await _request_gate_run(rt, state, policy,
                                              [v for v in versions or [] if v is not None],
                                              environment, gate_run, metadata)
    ttl = float((policy or {}).get("proposal_ttl_hours", 72))
    promotion_id = str(uuid.uuid4())
    state, _ = await govern(rt, prompt_id, domain.Propose(
        promotion_id, version, environment, reason, datetime.now(UTC) + timedelta(hours=ttl),
        gate_run_id, split), metadata)
    if gate_run_id is not None and state.promotions[promotion_id].status == "pending" \
            and await rt.pool.fetchval("SELECT status FROM runs WHERE id = $1",
                                       gate_run_id) == "completed":
        # the gate run completed while the proposal was being decided: the gate watcher
        # found no proposal waiting for it then, so decide it now (idempotent)
        state, _ = await govern(rt, prompt_id, domain.ApplyIfReady(promotion_id),
                                EventMetadata(actor="eval-gate",
                                              correlation_id=metadata.correlation_id))
    return state, promotion_id


async def _request_gate_run(rt: Runtime, state: PromptState, policy: dict | None,
                            candidates: list[int], environment: str, gate_run: GateRun,
                            metadata: EventMetadata) -> str:
    gate = (policy or {}).get("gate")
    if not gate:
        raise Invalid("run_gate: the prompt's policy has no gate (dataset_id)", field="run_gate")
    current = pointer(state, environment)
    versions = [v for v in (current, *candidates) if v is not None]
    targets = [TargetSpec(prompt_id=state.prompt_id, version=v, model=gate_run.model,
                          params=gate_run.params)
               for v in dict.fromkeys(versions)]
    return await run_handlers.request_run(
        rt, RunCreate(dataset_id=gate["dataset_id"], targets=targets,
                      concurrency=gate_run.concurrency,
                      description="gate: " + ", ".join(f"v{v}" for v in candidates)
                      + f" → {environment}"),
        metadata, source="gate")


async def _no_state(_conn: asyncpg.Connection) -> None:
    return None


_GLOBAL_POLICY = FromReadModel(_no_state)  # a policy replaces the one before: nothing to load


async def set_global_policy(rt: Runtime, policy: dict, metadata: EventMetadata) -> dict:
    """The default policy of every prompt without one of its own; returns it as stored."""
    _, stored = await rt.commands.execute(
        streams.GLOBAL_POLICY, _GLOBAL_POLICY,
        pure(lambda _state: domain.set_global_policy(policy)), metadata)
    return stored[0].data["policy"]
