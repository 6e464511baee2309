"""Events of the prompt registry: prompts, versions, applications."""

from __future__ import annotations

from typing import Any

from pydantic import Field

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
    """v2: ``content`` may be a text or chat messages, ``variables`` are stored. A chat
    message's ``content`` is a text or a list of content parts (``harness.content_parts``,
    OpenAI's shape): ``text``, ``image_url``, ``input_audio`` and ``file`` (audio and files
    only in ``user`` messages); templates live in text parts, image URLs and audio/file
    data. Parts widened what ``content`` may hold without a schema bump: events stored
    before them load as they are. ``config`` (optional, ``{}`` when absent): the version's
    model and LLM options (``harness.prompt_config``).

    v1 (the first release) stored a text ``template`` and a ``note``; see the upcaster below.
    """

    TYPE = "PromptVersionCreated"
    SCHEMA_VERSION = 2
    prompt_id: str
    version: int
    content: Content
    variables: list[str]
    change_note: str = ""
    derived_from: int | None = None  # lineage: the version this one was edited from
    # the model and LLM options the version runs with (harness.prompt_config); {} = none.
    # Optional with a default: events stored before it existed load as "no config".
    config: dict[str, Any] = {}
    # the content's {{ prompt("name@label") }} references, bound when the version was
    # created: [{"ref", "prompt_id", "name", "environment" | "version"}]
    references: list[dict[str, Any]] = Field(default_factory=list)


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
    promotion_id: str | None = None  # the approved promotion that activated it


@registry.register
class ApplicationCreated(DomainEvent):
    TYPE = "ApplicationCreated"
    application_id: str
    name: str
    description: str = ""
    model_id: str | None = None  # None: the model of its version's config
    prompt_id: str
    temperature: float | None = 0.7  # None: its version's config's, else the default
    max_tokens: int | None = 1024
    top_p: float | None = None
    fallback_models: list[str] = []
    environment: str = "production"


@registry.register
class ApplicationUpdated(DomainEvent):
    TYPE = "ApplicationUpdated"
    application_id: str
    changes: dict[str, Any]


# ---- governance: environments, policies, promotions ----------------------------------

@registry.register
class PromptEnvironmentMoved(DomainEvent):
    """A named environment (not production, which is the active version) now points at a
    version."""

    TYPE = "PromptEnvironmentMoved"
    prompt_id: str
    environment: str
    version: int
    previous_version: int | None = None
    reason: str = ""
    promotion_id: str | None = None


@registry.register
class PromptReferenceMoved(DomainEvent):
    """A prompt this prompt's versions reference (directly, or through other prompts)
    moved an environment (``production``: activated a version), so what this prompt
    resolves to may have changed. Appended by the registry to each dependent's stream in
    the transaction of the move; caused by (``causation_id``) the move's event."""

    TYPE = "PromptReferenceMoved"
    prompt_id: str
    referenced_prompt_id: str
    referenced_name: str = ""
    environment: str
    version: int | None = None  # where the environment points now (None: cleared)
    previous_version: int | None = None


@registry.register
class PromptEnvironmentCleared(DomainEvent):
    TYPE = "PromptEnvironmentCleared"
    prompt_id: str
    environment: str
    previous_version: int | None = None
    reason: str = ""


@registry.register
class PromptEnvironmentSplit(DomainEvent):
    """An environment (production included) now splits its traffic between versions by
    weight, each request's variant picked by its stickiness key (``harness.rollout``). The
    environment's own version stays where it was: what a request without a key gets."""

    TYPE = "PromptEnvironmentSplit"
    prompt_id: str
    environment: str
    variants: list[dict[str, Any]]  # [{"version": int, "weight": number}], in order
    sticky_by: str = "user"  # user | metadata.<field> | header:<name>
    previous_variants: list[dict[str, Any]] | None = None  # the split it replaced
    reason: str = ""
    promotion_id: str | None = None


@registry.register
class PromptEnvironmentSplitEnded(DomainEvent):
    """The environment's split ended: every request gets the environment's version again
    (a move of the environment, in the same append, says which one when it changed)."""

    TYPE = "PromptEnvironmentSplitEnded"
    prompt_id: str
    environment: str
    variants: list[dict[str, Any]]  # the split that ended
    reason: str = ""
    promotion_id: str | None = None


@registry.register
class PromptPolicySet(DomainEvent):
    """``prompt_id`` None = the global default policy (stream ``policy-global``)."""

    TYPE = "PromptPolicySet"
    prompt_id: str | None = None
    policy: dict[str, Any]


@registry.register
class PromotionProposed(DomainEvent):
    TYPE = "PromotionProposed"
    prompt_id: str
    promotion_id: str
    version: int
    environment: str
    reason: str = ""
    expires_at: str  # ISO time
    gate_run_id: str | None = None
    split: dict[str, Any] | None = None  # {"variants", "sticky_by"}: a split proposed


@registry.register
class PromotionApproved(DomainEvent):
    TYPE = "PromotionApproved"
    prompt_id: str
    promotion_id: str
    comment: str = ""
    gate: dict[str, Any] | None = None


@registry.register
class PromotionRejected(DomainEvent):
    TYPE = "PromotionRejected"
    prompt_id: str
    promotion_id: str
    comment: str = ""
    gate: dict[str, Any] | None = None


@registry.register
class PromotionGateEvaluated(DomainEvent):
    """The gate run of a proposal that waits for an approver completed: its evidence,
    recorded so the approver sees it before deciding (the status does not change)."""

    TYPE = "PromotionGateEvaluated"
    prompt_id: str
    promotion_id: str
    gate: dict[str, Any]


@registry.register
class PromotionApplied(DomainEvent):
    """The approved (or policy-free) proposal moved the pointer."""

    TYPE = "PromotionApplied"
    prompt_id: str
    promotion_id: str
    gate: dict[str, Any] | None = None


@registry.register
class PromotionSuperseded(DomainEvent):
    TYPE = "PromotionSuperseded"
    prompt_id: str
    promotion_id: str
    by_promotion_id: str
