"""Events of the prompt registry: prompts, versions, applications."""

from __future__ import annotations

from typing import Any

from harness import templating

from .base import DomainEvent, registry

Content = str | list[dict[str, Any]]


@registry.register
class PromptCreated(DomainEvent):
    TYPE = "PromptCreated"
    prompt_id: str
    name: str
    description: str = ""


@registry.register
class PromptUpdated(DomainEvent):
    TYPE = "PromptUpdated"
    prompt_id: str
    name: str | None = None
    description: str | None = None


@registry.register
class PromptVersionCreated(DomainEvent):
    """v2: ``content`` may be a text or chat messages, ``variables`` are stored.

    v1 (the first release) stored a text ``template`` and a ``note``; see the upcaster below.
    """

    TYPE = "PromptVersionCreated"
    SCHEMA_VERSION = 2
    prompt_id: str
    version: int
    content: Content
    variables: list[str]
    change_note: str = ""


@registry.upcaster("PromptVersionCreated", 1)
def _prompt_version_created_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    template = data.pop("template")
    note = data.pop("note", "") or ""
    return {**data, "content": template, "variables": templating.variables(template),
            "change_note": note}


@registry.register
class PromptVersionActivated(DomainEvent):
    TYPE = "PromptVersionActivated"
    prompt_id: str
    version: int
    previous_version: int | None = None
    reason: str = ""


@registry.register
class ApplicationCreated(DomainEvent):
    TYPE = "ApplicationCreated"
    application_id: str
    name: str
    description: str = ""
    model_id: str
    prompt_id: str
    temperature: float = 0.7
    max_tokens: int = 1024
    top_p: float | None = None
    fallback_models: list[str] = []


@registry.register
class ApplicationUpdated(DomainEvent):
    TYPE = "ApplicationUpdated"
    application_id: str
    changes: dict[str, Any]
