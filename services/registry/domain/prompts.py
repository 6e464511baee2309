"""The prompt aggregate: pure ``decide(command, state) -> events`` and ``evolve(state, event)``.

Invariants: versions are numbered 1..n without gaps, versions are immutable, and once a
prompt exists exactly one version is active.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from harness import prompt_config, templating
from harness.events import StoredEvent, registry
from harness.events.base import DomainEvent
from harness.events.registry_events import (
    PromotionApplied,
    PromotionApproved,
    PromotionGateEvaluated,
    PromotionProposed,
    PromotionRejected,
    PromotionSuperseded,
    PromptCreated,
    PromptEnvironmentCleared,
    PromptEnvironmentMoved,
    PromptEnvironmentSplit,
    PromptEnvironmentSplitEnded,
    PromptPolicySet,
    PromptUpdated,
    PromptVersionActivated,
    PromptVersionCreated,
)

from .errors import AlreadyExists, Invalid, NotFound

Content = str | list[dict[str, Any]]


# ---- commands -------------------------------------------------------------------------

@dataclass(frozen=True)
class CreatePrompt:
    prompt_id: str
    name: str
    content: Content
    description: str = ""
    change_note: str = "initial version"
    config: dict[str, Any] | None = None  # model and LLM options (harness.prompt_config)
    references: tuple[dict[str, Any], ...] = ()  # bound by the handler (composition.bind)


@dataclass(frozen=True)
class UpdatePrompt:
    name: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class CreateVersion:
    content: Content
    change_note: str = ""
    activate: bool = False
    derived_from: int | None = None  # default: the active version
    # model and LLM options (harness.prompt_config); None: derived_from's config, {}: none
    config: dict[str, Any] | None = None
    references: tuple[dict[str, Any], ...] = ()  # bound by the handler (composition.bind)


@dataclass(frozen=True)
class ActivateVersion:
    version: int
    reason: str = ""


Command = CreatePrompt | UpdatePrompt | CreateVersion | ActivateVersion


# ---- state ----------------------------------------------------------------------------

@dataclass(frozen=True)
class VersionState:
    version: int
    content: Content
    variables: list[str]
    change_note: str
    created_at: datetime | None
    created_by: str | None
    derived_from: int | None = None
    config: dict[str, Any] = field(default_factory=dict)
    references: list[dict[str, Any]] = field(default_factory=list)  # bound references


@dataclass(frozen=True)
class PointerChange:
    """The event that put an environment where it is (for time travel and audit)."""

    type: str
    version: int | None
    at: datetime | None
    actor: str | None
    reason: str = ""
    promotion_id: str | None = None


@dataclass(frozen=True)
class PromotionState:
    promotion_id: str
    version: int
    environment: str
    reason: str
    expires_at: str
    proposed_by: str | None
    proposed_at: datetime | None
    status: str = "pending"  # pending | approved | applied | rejected | superseded
    gate_run_id: str | None = None
    decided_by: str | None = None
    comment: str = ""
    gate: dict[str, Any] | None = None
    split: dict[str, Any] | None = None  # {"variants", "sticky_by"}: a split proposed


@dataclass(frozen=True)
class SplitState:
    """An environment's weighted split (``harness.rollout``): its variants
    (``[{"version", "weight"}]``), where a request's key comes from, and who started it."""

    variants: list[dict[str, Any]]
    sticky_by: str
    at: datetime | None = None
    actor: str | None = None
    reason: str = ""
    promotion_id: str | None = None


STATE_SCHEMA = 4  # 2: environment splits; 3: a version's config; 4: its references
"""The shape and meaning of :class:`PromptState` in snapshots: bump it when the state's
fields, :func:`evolve` or an upcaster of the prompt's events change."""


@dataclass(frozen=True)
class PromptState:
    prompt_id: str | None = None
    name: str = ""
    description: str = ""
    versions: dict[int, VersionState] = field(default_factory=dict)
    active_version: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    environments: dict[str, int] = field(default_factory=dict)  # besides production
    pointer_changes: dict[str, PointerChange] = field(default_factory=dict)
    policy: dict[str, Any] | None = None
    promotions: dict[str, PromotionState] = field(default_factory=dict)
    splits: dict[str, SplitState] = field(default_factory=dict)  # production included

    @property
    def exists(self) -> bool:
        return self.prompt_id is not None

    @property
    def latest_version(self) -> int:
        return max(self.versions, default=0)


def check_content(content: Content) -> list[str]:
    """The content's variables; ``Invalid`` when it is not a usable template."""
    try:
        templating.validate(content)
        return templating.variables(content)
    except ValueError as exc:
        raise Invalid(f"content: {exc}", field="content") from exc


def _check_config(config: dict[str, Any] | None) -> dict[str, Any]:
    try:
        return prompt_config.check_config(config)
    except prompt_config.ConfigError as exc:
        raise Invalid(str(exc), field=exc.field) from exc


# ---- decide ---------------------------------------------------------------------------

def decide(command: Command, state: PromptState) -> list[DomainEvent]:
    if isinstance(command, CreatePrompt):
        if state.exists:
            raise AlreadyExists(f"prompt {command.prompt_id} already exists")
        if not command.name.strip():
            raise Invalid("name: must not be empty", field="name")
        variables = check_content(command.content)
        config = _check_config(command.config)
        return [
            PromptCreated(prompt_id=command.prompt_id, name=command.name,
                          description=command.description),
            PromptVersionCreated(prompt_id=command.prompt_id, version=1, content=command.content,
                                 variables=variables, change_note=command.change_note,
                                 config=config, references=list(command.references)),
            PromptVersionActivated(prompt_id=command.prompt_id, version=1, previous_version=None,
                                   reason="first version"),
        ]

    if not state.exists:
        raise NotFound("prompt not found")
    assert state.prompt_id is not None

    if isinstance(command, UpdatePrompt):
        name = command.name if command.name is not None and command.name != state.name else None
        if name is not None and not name.strip():
            raise Invalid("name: must not be empty", field="name")
        desc = (command.description
                if command.description is not None and command.description != state.description
                else None)
        if name is None and desc is None:
            return []
        return [PromptUpdated(prompt_id=state.prompt_id, name=name, description=desc)]

    if isinstance(command, CreateVersion):
        variables = check_content(command.content)
        config = _check_config(command.config)
        number = state.latest_version + 1
        parent = command.derived_from if command.derived_from is not None \
            else state.active_version
        if parent is not None and parent not in state.versions:
            raise NotFound(f"derived_from: prompt has no version {parent}", field="derived_from")
        if command.config is None and parent is not None:
            # left out: the version it is derived from keeps its config ({} clears it)
            config = dict(state.versions[parent].config)
        events: list[DomainEvent] = [
            PromptVersionCreated(prompt_id=state.prompt_id, version=number,
                                 content=command.content, variables=variables,
                                 change_note=command.change_note, derived_from=parent,
                                 config=config, references=list(command.references))
        ]
        if command.activate:
            events += end_split(state, PRODUCTION, command.change_note)
            events.append(PromptVersionActivated(
                prompt_id=state.prompt_id, version=number,
                previous_version=state.active_version, reason=command.change_note))
        return events

    if isinstance(command, ActivateVersion):
        if command.version not in state.versions:
            raise NotFound(f"prompt has no version {command.version}", field="version")
        ended = end_split(state, PRODUCTION, command.reason)
        if command.version == state.active_version:
            return ended  # activating the active version ends a split of production
        return [*ended, PromptVersionActivated(prompt_id=state.prompt_id,
                                               version=command.version,
                                               previous_version=state.active_version,
                                               reason=command.reason)]

    raise TypeError(f"unknown command {command!r}")


# ---- evolve ---------------------------------------------------------------------------

def evolve(state: PromptState, event: DomainEvent, at: datetime | None = None,
           actor: str | None = None) -> PromptState:
    if isinstance(event, PromptCreated):
        return replace(state, prompt_id=event.prompt_id, name=event.name,
                       description=event.description, created_at=at, updated_at=at)
    if isinstance(event, PromptUpdated):
        return replace(
            state,
            name=event.name if event.name is not None else state.name,
            description=event.description if event.description is not None else state.description,
            updated_at=at,
        )
    if isinstance(event, PromptVersionCreated):
        v = VersionState(event.version, event.content, list(event.variables), event.change_note,
                         at, actor, event.derived_from, dict(event.config),
                         list(event.references))
        return replace(state, versions={**state.versions, event.version: v}, updated_at=at)
    if isinstance(event, PromptVersionActivated):
        change = PointerChange(event.TYPE, event.version, at, actor, event.reason,
                               event.promotion_id)
        return replace(state, active_version=event.version, updated_at=at,
                       pointer_changes={**state.pointer_changes, PRODUCTION: change})
    if isinstance(event, PromptEnvironmentMoved):
        change = PointerChange(event.TYPE, event.version, at, actor, event.reason,
                               event.promotion_id)
        return replace(state, environments={**state.environments,
                                            event.environment: event.version},
                       pointer_changes={**state.pointer_changes, event.environment: change},
                       updated_at=at)
    if isinstance(event, PromptEnvironmentCleared):
        envs = {k: v for k, v in state.environments.items() if k != event.environment}
        change = PointerChange(event.TYPE, None, at, actor, event.reason)
        splits = {k: v for k, v in state.splits.items() if k != event.environment}
        return replace(state, environments=envs, updated_at=at, splits=splits,
                       pointer_changes={**state.pointer_changes, event.environment: change})
    if isinstance(event, PromptEnvironmentSplit):
        split = SplitState([dict(v) for v in event.variants], event.sticky_by, at, actor,
                           event.reason, event.promotion_id)
        return replace(state, splits={**state.splits, event.environment: split},
                       updated_at=at)
    if isinstance(event, PromptEnvironmentSplitEnded):
        return replace(state, updated_at=at,
                       splits={k: v for k, v in state.splits.items()
                               if k != event.environment})
    if isinstance(event, PromptPolicySet):
        return replace(state, policy=dict(event.policy), updated_at=at)
    if isinstance(event, PromotionProposed):
        p = PromotionState(event.promotion_id, event.version, event.environment, event.reason,
                           event.expires_at, actor, at, gate_run_id=event.gate_run_id,
                           split=event.split)
        return replace(state, promotions={**state.promotions, p.promotion_id: p})
    if isinstance(event, PromotionGateEvaluated):
        p = state.promotions.get(event.promotion_id)
        if p is None:
            return state
        return replace(state, promotions={**state.promotions,
                                          event.promotion_id: replace(p, gate=event.gate)})
    if isinstance(event, PromotionApproved | PromotionRejected | PromotionApplied
                  | PromotionSuperseded):
        p = state.promotions.get(event.promotion_id)
        if p is None:
            return state
        status = {PromotionApproved: "approved", PromotionRejected: "rejected",
                  PromotionApplied: "applied", PromotionSuperseded: "superseded"}[type(event)]
        changes: dict[str, Any] = {"status": status}
        if isinstance(event, PromotionApproved | PromotionRejected):
            changes.update(decided_by=actor, comment=event.comment)
        if getattr(event, "gate", None) is not None:
            changes["gate"] = event.gate
        return replace(state, promotions={**state.promotions,
                                          event.promotion_id: replace(p, **changes)})
    return state


PRODUCTION = "production"


def pointer(state: PromptState, environment: str) -> int | None:
    """The version an environment points at (production = the active version)."""
    if environment == PRODUCTION:
        return state.active_version
    return state.environments.get(environment)


def end_split(state: PromptState, environment: str, reason: str = "",
              promotion_id: str | None = None) -> list[DomainEvent]:
    """The event that ends ``environment``'s split, if it has one (any move of an
    environment ends its split)."""
    split = state.splits.get(environment)
    if split is None:
        return []
    assert state.prompt_id is not None
    return [PromptEnvironmentSplitEnded(prompt_id=state.prompt_id, environment=environment,
                                        variants=split.variants, reason=reason,
                                        promotion_id=promotion_id)]


def replay(events: Iterable[StoredEvent], state: PromptState = PromptState()) -> PromptState:
    """The state after stored events (each with its time and actor)."""
    for ev in events:
        state = evolve(state, registry.decode(ev), ev.recorded_at, ev.metadata.actor)
    return state
