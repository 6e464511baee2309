"""The application aggregate: model + a prompt's active version + LLM options.

``model_id``, ``temperature`` and ``max_tokens`` may be left unset (``None``): the
application then runs with its prompt version's config, else the defaults
(``harness.prompt_config``: request > application > version config > defaults)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from harness.events import StoredEvent, registry
from harness.events.base import DomainEvent
from harness.events.registry_events import ApplicationCreated, ApplicationUpdated

from .errors import AlreadyExists, Invalid, NotFound

MUTABLE_FIELDS = ("name", "description", "model_id", "prompt_id", "temperature", "max_tokens",
                  "top_p", "fallback_models", "environment")


@dataclass(frozen=True)
class CreateApplication:
    application_id: str
    name: str
    model_id: str | None
    prompt_id: str
    description: str = ""
    temperature: float | None = None
    max_tokens: int | None = None
    top_p: float | None = None
    fallback_models: list[str] = field(default_factory=list)
    environment: str = "production"


@dataclass(frozen=True)
class UpdateApplication:
    changes: dict[str, Any]


STATE_SCHEMA = 2  # 2: model_id, temperature and max_tokens may be unset
"""The shape and meaning of :class:`ApplicationState` in snapshots: bump it when the
state's fields, :func:`evolve` or an upcaster of the application's events change."""


@dataclass(frozen=True)
class ApplicationState:
    application_id: str | None = None
    name: str = ""
    description: str = ""
    model_id: str | None = None
    prompt_id: str = ""
    temperature: float | None = 0.7
    max_tokens: int | None = 1024
    top_p: float | None = None
    fallback_models: tuple[str, ...] = ()
    environment: str = "production"
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def exists(self) -> bool:
        return self.application_id is not None


def _check(values: dict[str, Any]) -> None:
    t = values.get("temperature")
    if t is not None and not 0 <= t <= 2:
        raise Invalid("temperature: must be between 0 and 2", field="temperature")
    m = values.get("max_tokens")
    if m is not None and m < 1:
        raise Invalid("max_tokens: must be at least 1", field="max_tokens")
    p = values.get("top_p")
    if p is not None and not 0 < p <= 1:
        raise Invalid("top_p: must be in (0, 1]", field="top_p")
    env = values.get("environment")
    if env is not None:
        from .governance import check_environment

        check_environment(env)
    for key in ("name", "model_id", "prompt_id"):
        if key in values and values[key] is not None and not str(values[key]).strip():
            raise Invalid(f"{key}: must not be empty", field=key)


def decide(command: CreateApplication | UpdateApplication,
           state: ApplicationState) -> list[DomainEvent]:
    if isinstance(command, CreateApplication):
        if state.exists:
            raise AlreadyExists(f"application {command.application_id} already exists")
        _check(command.__dict__)
        return [ApplicationCreated(**command.__dict__)]
    if not state.exists:
        raise NotFound("application not found")
    unknown = set(command.changes) - set(MUTABLE_FIELDS)
    if unknown:
        raise Invalid(f"cannot change {', '.join(sorted(unknown))}", field=sorted(unknown)[0])
    if "name" in command.changes and command.changes["name"] is None:
        raise Invalid("name: must not be empty", field="name")
    _check(command.changes)
    changes = {
        k: v for k, v in command.changes.items()
        if (tuple(v) if k == "fallback_models" else v) != getattr(state, k)
    }
    if not changes:
        return []
    assert state.application_id is not None
    return [ApplicationUpdated(application_id=state.application_id, changes=changes)]


def evolve(state: ApplicationState, event: DomainEvent,
           at: datetime | None = None) -> ApplicationState:
    if isinstance(event, ApplicationCreated):
        data = event.model_dump()
        data["fallback_models"] = tuple(data["fallback_models"])
        return ApplicationState(**data, created_at=at, updated_at=at)
    if isinstance(event, ApplicationUpdated):
        changes = dict(event.changes)
        if "fallback_models" in changes:
            changes["fallback_models"] = tuple(changes["fallback_models"] or ())
        return replace(state, **changes, updated_at=at)
    return state


def replay(events: Iterable[StoredEvent],
           state: ApplicationState = ApplicationState()) -> ApplicationState:
    """The state after stored events (each with its time)."""
    for ev in events:
        state = evolve(state, registry.decode(ev), ev.recorded_at)
    return state
