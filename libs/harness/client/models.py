"""What the client returns: a resolved application and a prompt version (pydantic v2)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from harness import rollout, templating

Content = str | list[dict[str, Any]]
Source = Literal["registry", "memory", "disk", "fallback"]
"""Where this answer came from: the registry on this call (a 200 or a 304), memory, the
on-disk cache (never confirmed since this process started), or the caller's fallback."""


class _Renderable(BaseModel):
    content: Content
    variables: list[str] = Field(default_factory=list)
    references: list[dict[str, Any]] = Field(
        default_factory=list, description="the versions the prompt's references resolved "
        "to (``content`` has them expanded)")
    fetched_at: datetime | None = Field(default=None, description="when the registry sent it")
    source: Source = "registry"
    stale: bool = Field(default=False, description="the registry could not confirm it "
                                                   "(unreachable): the last good value")

    @model_validator(mode="after")
    def _fill_variables(self):
        if not self.variables:
            try:
                names = templating.variables(self.content)
            except ValueError:
                names = []
            if names:
                object.__setattr__(self, "variables", names)
        return self

    def render(self, **variables: Any) -> list[dict[str, Any]]:
        """Chat messages with the variables filled in (a text prompt is one user message).
        Missing variables raise ``harness.templating.MissingVariablesError``."""
        return templating.to_messages(templating.render(self.content, variables))

    def served(self, source: Source, stale: bool) -> Any:
        return self.model_copy(update={"source": source, "stale": stale})


class Resolved(_Renderable):
    """What an application runs now: its model, LLM options and prompt's active version.

    When its environment is split (weighted rollout), ``split`` lists the variants and
    :meth:`for_key` picks a key's (``client.resolve(app, key=user_id)`` does), the same one
    the registry's ``resolved?key=`` and the gateway pick; ``variant`` says which.

    ``model`` and ``params`` are in effect (the application's over the version's
    ``config`` over the defaults); ``config`` is the version's own. Call the model with
    ``resolved.render(...)`` as messages and ``**resolved.params``: your own options go
    over them."""

    application_id: str | None = None
    application: str | None = None
    model: str
    params: dict[str, Any] = Field(default_factory=dict)
    config: dict[str, Any] = Field(default_factory=dict,
                                   description="the version's model config, as stored")
    fallback_models: list[str] = Field(default_factory=list)
    prompt_id: str | None = None
    prompt_name: str | None = None
    version: int | None = None
    etag: str | None = None
    environment: str | None = None
    split: dict[str, Any] | None = None
    variant: dict[str, Any] | None = None

    def for_key(self, key: str | None) -> Resolved:
        """This answer for the stickiness ``key`` (e.g. the end user's id): the key's
        variant when the environment is split (always the same one for the same key);
        unchanged without a split or a key."""
        if not key or not self.split or self.prompt_id is None or self.environment is None:
            return self
        picked = rollout.for_key({"split": self.split, "prompt_id": self.prompt_id,
                                  "environment": self.environment}, key)
        fields = set(type(self).model_fields) - {"split", "prompt_id", "environment"}
        return self.model_copy(update={k: v for k, v in picked.items() if k in fields})


class PromptVersion(_Renderable):
    """One (immutable) version of a prompt; ``is_active`` as of ``fetched_at``."""

    prompt_id: str | None = None
    prompt_name: str | None = None
    version: int | None = None
    is_active: bool = False
    created_at: datetime | None = None
    created_by: str | None = None
    change_note: str = ""
    config: dict[str, Any] = Field(default_factory=dict,
                                   description="model and LLM options; {} for none")
