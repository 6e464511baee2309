"""Request and response bodies of the registry API (pydantic v2)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Generic, Literal, TypeVar

from fastapi import UploadFile
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    SerializerFunctionWrapHandler,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WrapSerializer,
    WrapValidator,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from harness import content_parts, prompt_config
from harness.evaluation.analysis import MetricStats
from harness.tracing.record import Source
from harness.web.bodies import RequestBody
from harness.web.input_guard import INT32_MAX, Timestamp

T = TypeVar("T")


def _text_or(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    if isinstance(value, str):
        return value
    if not isinstance(value, list):
        raise PydanticCustomError("text_or_list", "must be a text or a list")
    return handler(value)


class _TextOrSchema:
    def __get_pydantic_json_schema__(self, schema: Any, handler: GetJsonSchemaHandler
                                     ) -> dict[str, Any]:
        return {"anyOf": [{"type": "string"}, handler(schema)]}


def _text_or_dump(value: Any, handler: SerializerFunctionWrapHandler) -> Any:
    return value if isinstance(value, str) else handler(value)


_TEXT_OR = WrapValidator(_text_or), WrapSerializer(_text_or_dump)
"""With :class:`_TextOrSchema` on a ``list[X]``: a text or a list of X. Not a union, so a
422 names the JSON path (``content.0.content.2.image_url.url``) without branch names."""


class ImageURL(RequestBody):
    url: str = Field(min_length=1, description="an https URL or a data URL; may hold "
                                               "template variables")
    detail: Literal["auto", "low", "high"] | None = None


class InputAudio(RequestBody):
    data: str = Field(min_length=1, description="base64-encoded audio")
    format: str = Field(pattern=r"^[A-Za-z0-9.+/-]{1,40}$", description="wav, mp3, ...")


class FileRef(RequestBody):
    file_id: str | None = Field(default=None, min_length=1)
    file_data: str | None = Field(default=None, min_length=1,
                                  description="a data URL or base64 of the file")
    filename: str | None = Field(default=None, min_length=1)
    format: str | None = Field(default=None, min_length=1, description="MIME type")

    @model_validator(mode="after")
    def _has_file(self) -> FileRef:
        if self.file_id is None and self.file_data is None:
            raise PydanticCustomError("file_missing", "a file needs 'file_id' or 'file_data'")
        return self


_PART_FIELDS = ("text", "image_url", "input_audio", "file")


class ContentPart(RequestBody):
    """One part of a message's content, as in the OpenAI chat API: the field named by
    ``type`` and no other (``text`` and ``image_url.url`` are templates)."""

    model_config = {"json_schema_extra": {"examples": [
        {"type": "text", "text": "Describe {{ subject }}."},
        {"type": "image_url", "image_url": {"url": "https://img.example/{{ image_id }}.png",
                                            "detail": "high"}},
        {"type": "input_audio", "input_audio": {"data": "{{ audio }}", "format": "wav"}},
        {"type": "file", "file": {"file_id": "file-abc"}}]}}

    type: Literal["text", "image_url", "input_audio", "file"]
    text: str | None = None
    image_url: ImageURL | None = None
    input_audio: InputAudio | None = None
    file: FileRef | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> ContentPart:
        if getattr(self, self.type) is None:
            raise PydanticCustomError("part_missing", "a {kind} part needs '{kind}'",
                                      {"kind": self.type})
        for other in _PART_FIELDS:
            if other != self.type and getattr(self, other) is not None:
                raise PydanticCustomError("part_mixed", "a {kind} part takes no '{other}'",
                                          {"kind": self.type, "other": other})
        return self


class ChatMessage(RequestBody):
    """One message of a chat prompt (other message fields are refused, not dropped): a
    text, or a list of parts (images, audio and files only in user messages)."""

    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: Annotated[list[ContentPart], Field(min_length=1), *_TEXT_OR, _TextOrSchema()]

    @model_validator(mode="after")
    def _media_from_users(self) -> ChatMessage:
        if isinstance(self.content, list) and self.role not in content_parts.MEDIA_ROLES:
            for part in self.content:
                if part.type != "text":
                    raise PydanticCustomError(
                        "part_role", "{kind} parts belong in user messages, not in a "
                        "{role} message", {"kind": part.type, "role": self.role})
        return self


Content = Annotated[list[ChatMessage], Field(min_length=1), *_TEXT_OR, _TextOrSchema()]


def content_to_plain(content: str | list[ChatMessage]) -> str | list[dict[str, Any]]:
    if isinstance(content, str):
        return content
    return [m.model_dump(exclude_none=True) for m in content]


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


def _drop_null(schema: dict[str, Any], model: type[BaseModel]) -> None:
    """PATCH schemas: only the nullable fields accept ``null``."""
    nullable = getattr(model, "nullable", frozenset())
    for name, prop in schema.get("properties", {}).items():
        field = next((k for k, f in model.model_fields.items() if (f.alias or k) == name), name)
        options = prop.get("anyOf")
        if field in nullable or not options:
            continue
        kept = [o for o in options if o.get("type") != "null"]
        prop.pop("anyOf")
        if len(kept) == 1:
            prop.update(kept[0])
        else:
            prop["anyOf"] = kept
        if prop.get("default", 0) is None:
            prop.pop("default")


class PatchBody(RequestBody):
    """A PATCH body: a field left out keeps its value; ``null`` is accepted only by the
    fields in ``nullable`` (it clears them) and is a 422 naming the field elsewhere (it
    used to reach a NOT NULL column as a 500)."""

    model_config = {"json_schema_extra": _drop_null}
    nullable: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*", mode="before")
    @classmethod
    def _no_null(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.field_name not in cls.nullable:
            raise ValueError("may not be null; leave the field out to keep its value")
        return value


_CONFIG_DOC = (
    "the model and LLM options this version runs with, as in an OpenAI chat request: "
    "``model`` (a deployment or alias name) and the LLM options runs take (temperature, "
    "max_tokens, top_p, stop, seed, tools, tool_choice, response_format, ...). Any other key "
    "is refused (422 naming it); ``tools`` must be an OpenAI tool list, ``tool_choice`` name "
    "one of them, a ``json_schema`` response format carry a valid JSON Schema. Where the "
    "version runs: request > application > version config > defaults.")


class _StrictBody(RequestBody):
    """A part of a version config: stored in an immutable event and handed to providers
    as sent, so a value is never coerced (``0`` is not ``false``, ``"0.5"`` not ``0.5``:
    a 422 naming the field instead)."""

    model_config = ConfigDict(extra="forbid", strict=True)


class ToolFunction(_StrictBody):
    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    description: str | None = None
    parameters: dict[str, Any] | None = Field(default=None,
                                              description="a JSON Schema of type object")
    strict: bool | None = None


class Tool(_StrictBody):
    """An OpenAI function tool."""

    type: Literal["function"]
    function: ToolFunction


class JsonSchemaFormat(_StrictBody):
    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    description: str | None = None
    schema_: dict[str, Any] = Field(alias="schema", description="a JSON Schema")
    strict: bool | None = None


class ResponseFormat(_StrictBody):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchemaFormat | None = None


class PromptConfig(_StrictBody):
    """A version's model config: ``model`` and the LLM options runs take
    (``harness.llm.options.LLM_OPTIONS``, one field each), checked whole by
    ``harness.prompt_config``. ``null`` is the same as leaving a key out; any other key is
    refused, each named (``config.api_base``: endpoints and credentials come only from
    server configuration)."""

    model: str | None = Field(default=None, min_length=1,
                              description="a deployment or alias name")
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=1, le=INT32_MAX)
    max_completion_tokens: int | None = Field(default=None, ge=1, le=INT32_MAX)
    top_p: float | None = Field(default=None, gt=0, le=1)
    top_k: int | None = Field(default=None, ge=1)
    stop: str | list[str] | None = None
    seed: int | None = None
    n: int | None = Field(default=None, ge=1, le=128)
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    logit_bias: dict[str, float] | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = Field(default=None, ge=0, le=20)
    tools: list[Tool] | None = None
    tool_choice: Literal["none", "auto", "required"] | dict[str, Any] | None = Field(
        default=None, description='or {"type": "function", "function": {"name": <a tool>}}')
    parallel_tool_calls: bool | None = None
    functions: list[dict[str, Any]] | None = Field(default=None,
                                                   description="legacy: use tools")
    function_call: str | dict[str, Any] | None = Field(default=None,
                                                       description="legacy: use tool_choice")
    response_format: ResponseFormat | None = None
    user: str | None = None
    reasoning_effort: str | None = None
    verbosity: str | None = None
    thinking: dict[str, Any] | None = None
    modalities: list[str] | None = None
    audio: dict[str, Any] | None = None
    prediction: dict[str, Any] | None = None
    web_search_options: dict[str, Any] | None = None
    service_tier: str | None = None


def config_to_plain(config: PromptConfig | None) -> dict[str, Any] | None:
    """What the client sent, as sent (keys it gave, ``schema`` by its name)."""
    if config is None:
        return None
    given = config.model_dump(exclude_unset=True, by_alias=True)
    return {k: v for k, v in given.items() if v is not None}  # null: not set


# a version's model and LLM options sent beside its content (as on a chat request, or a
# Langfuse/MLflow prompt's top level): they belong in its config
_CONFIG_FIELDS = {k: f"config.{k}" for k in prompt_config.ALLOWED_KEYS}


class PromptCreate(RequestBody):
    misplaced_fields: ClassVar[dict[str, str]] = _CONFIG_FIELDS

    name: str = Field(min_length=1, max_length=200)
    description: str = ""
    content: Content
    change_note: str = "initial version"
    config: PromptConfig | None = Field(default=None, description=_CONFIG_DOC)


class PromptPatch(PatchBody):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = None


class PromptVersionCreate(RequestBody):
    misplaced_fields: ClassVar[dict[str, str]] = _CONFIG_FIELDS

    content: Content
    change_note: str = ""
    activate: bool = False
    derived_from: int | None = Field(default=None, ge=1, le=INT32_MAX,
                                     description="lineage: default the active version")
    config: PromptConfig | None = Field(
        default=None, description=_CONFIG_DOC + " Left out: the config of the version it is "
                                                "derived from; {} for none.")


class ActivateBody(RequestBody):
    reason: str = ""


class RenderBody(RequestBody):
    variables: dict[str, Any] = {}
    version: int | None = Field(default=None, ge=1, le=INT32_MAX,
                                description="default: the active version")


class PromptVersionSummary(BaseModel):
    """A version as lists show it: everything but the content (a list page stays small
    whatever the prompts weigh; ``GET /prompts/{id}/versions/{n}`` has the content)."""

    id: str
    prompt_id: str
    version: int
    variables: list[str]
    is_active: bool
    created_at: datetime | None
    created_by: str | None
    change_note: str
    derived_from: int | None = None


class VersionReferenceOut(BaseModel):
    """A ``{{ prompt("name@label") }}`` of a version, as bound when it was created: the
    prompt it names (by id: a rename keeps it) and the environment or version."""

    ref: str
    prompt_id: str
    name: str
    environment: str | None = None
    version: int | None = None


class ResolvedReferenceOut(BaseModel):
    """A version a composed prompt used: what ``ref`` resolved to when it was resolved."""

    ref: str = Field(description='as written: {{ prompt("<ref>") }}')
    prompt_id: str
    prompt_name: str
    id: str = Field(description="the version's id")
    version: int
    environment: str | None = Field(None, description="None: the reference names a version")
    referenced_by: str = Field(description="the prompt (id) whose content holds the reference")
    depth: int = Field(description="1: referenced by the resolved prompt itself")


class PromptVersionOut(PromptVersionSummary):
    content: str | list[dict[str, Any]]
    config: dict[str, Any] = Field(default_factory=dict,
                                   description="model and LLM options; {} for none")
    references: list[VersionReferenceOut] = Field(
        default_factory=list, description="the content's references to other prompts (as "
        "written; GET /prompts/{id}/resolved or POST /prompts/{id}/render expand them)")


class PromptSummary(BaseModel):
    """A prompt as ``GET /prompts`` lists it: its active version without the content."""

    id: str
    name: str
    description: str
    created_at: datetime | None
    updated_at: datetime | None
    active_version: int | None
    latest_version: int
    active: PromptVersionSummary | None = None


class PromptOut(PromptSummary):
    active: PromptVersionOut | None = None


class HistoryEntry(BaseModel):
    position: int
    stream_version: int
    type: str
    at: datetime
    actor: str | None
    version: int | None = None
    previous_version: int | None = None
    note: str | None = None
    data: dict[str, Any]


class DiffOut(BaseModel):
    prompt_id: str
    from_version: int
    to_version: int
    diff: str
    variables_added: list[str]
    variables_removed: list[str]
    config_diff: str = Field(default="", description="unified diff of the two configs "
                                                     "(indented JSON, sorted keys)")
    config_changed: list[str] = Field(default_factory=list,
                                      description="config keys added, removed or changed")


class PromptResolvedOut(BaseModel):
    """A prompt version with its references expanded: ``content`` is what renders,
    ``template`` the version's own content (with its ``{{ prompt(...) }}`` tags)."""

    prompt_id: str
    prompt_name: str
    id: str
    version: int
    environment: str | None = Field(
        None, description="the environment it was resolved from (production when neither "
        "`version` nor `environment` is given); null when asked by version")
    is_active: bool
    content: str | list[dict[str, Any]]
    template: str | list[dict[str, Any]]
    variables: list[str]
    config: dict[str, Any] = Field(default_factory=dict,
                                   description="the version's model and LLM options")
    references: list[ResolvedReferenceOut] = Field(default_factory=list)
    created_at: datetime | None = None
    created_by: str | None = None
    change_note: str = ""


class RenderOut(BaseModel):
    prompt_id: str
    version: int
    rendered: str | list[dict[str, Any]]
    messages: list[dict[str, Any]]
    config: dict[str, Any] = Field(default_factory=dict,
                                   description="the version's model and LLM options, to call "
                                               "the model with alongside ``messages``")
    references: list[ResolvedReferenceOut] = Field(
        default_factory=list, description="the versions the prompt's references resolved to")


class ApplicationCreate(RequestBody):
    name: str = Field(min_length=1, max_length=200)
    description: str = ""
    model_id: str | None = Field(default=None, min_length=1,
                                 description="default: the model of its version's config")
    prompt_id: str
    temperature: float | None = Field(
        default=None, ge=0, le=2, description="default: its version's config's, else 0.7")
    max_tokens: int | None = Field(
        default=None, ge=1, le=INT32_MAX,
        description="default: its version's config's, else 1024")
    top_p: float | None = Field(default=None, gt=0, le=1)
    fallback_models: list[str] = []
    environment: str = Field(default="production",
                             description="which of the prompt's environments it runs")


class ApplicationPatch(PatchBody):
    nullable: ClassVar[frozenset[str]] = frozenset({"top_p", "model_id", "temperature",
                                                    "max_tokens"})  # null: from the version
    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = None
    model_id: str | None = Field(default=None, min_length=1)
    prompt_id: str | None = None
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=1, le=INT32_MAX)
    top_p: float | None = Field(default=None, gt=0, le=1)
    fallback_models: list[str] | None = None
    environment: str | None = None


class ApplicationOut(BaseModel):
    id: str
    name: str
    description: str
    model_id: str | None = Field(description="null: the model of its version's config")
    prompt_id: str
    temperature: float | None = Field(description="null: its version's config's, else 0.7")
    max_tokens: int | None = Field(description="null: its version's config's, else 1024")
    top_p: float | None
    fallback_models: list[str]
    environment: str
    created_at: datetime
    updated_at: datetime


class PointerChangeOut(BaseModel):
    """The event that put an environment where it is."""

    type: str
    at: datetime | None
    actor: str | None
    reason: str
    promotion_id: str | None


class SplitVariantOut(BaseModel):
    """One variant of an environment's split: its version (with what that version runs),
    its weight and its share of the traffic."""

    version: int
    weight: float
    share: float
    content: str | list[dict[str, Any]]
    variables: list[str]
    config: dict[str, Any] = Field(default_factory=dict, description="the version's config")
    model: str | None = Field(default=None, description="the model in effect for it")
    params: dict[str, Any] = Field(default_factory=dict,
                                   description="the params in effect for it")
    references: list[ResolvedReferenceOut] = Field(
        default_factory=list, description="the versions its references resolved to")


class SplitOut(BaseModel):
    """The environment's weighted split: a client picks a variant for a key with
    ``harness.rollout.pick`` (the SDK does), or asks ``resolved?key=``."""

    sticky_by: str
    variants: list[SplitVariantOut]


class PickedVariantOut(BaseModel):
    """The variant a key got (``resolved?key=``): the top-level version is its version."""

    version: int
    weight: float
    share: float


class ResolvedOut(BaseModel):
    """What an application runs: model, params and the prompt version its environment
    points at. ``as_of`` and ``set_by`` only in an ``?as_of=`` answer (folded from events).
    When the environment is split, ``split`` lists the variants; with ``?key=`` the
    top-level version and content are the key's variant (``variant``), without one they
    are the environment's own version. ``model`` and ``params`` are in effect: the
    application's, over the version's ``config``, over the defaults."""

    application_id: str
    application: str
    model: str
    fallback_models: list[str]
    params: dict[str, Any]
    prompt_id: str
    prompt_name: str
    version: int
    content: str | list[dict[str, Any]]
    variables: list[str]
    config: dict[str, Any] = Field(default_factory=dict,
                                   description="the version's config, as stored")
    environment: str
    references: list[ResolvedReferenceOut] = Field(
        default_factory=list, description="the versions the prompt's references resolved to "
        "(``content`` has them expanded)")
    as_of: datetime | None = None
    set_by: PointerChangeOut | None = None
    split: SplitOut | None = None
    variant: PickedVariantOut | None = None


class EventOut(BaseModel):
    global_position: int
    event_id: str
    stream_id: str
    stream_version: int
    type: str
    schema_version: int
    data: dict[str, Any]
    metadata: dict[str, Any]
    recorded_at: datetime


class EventsPage(BaseModel):
    items: list[EventOut]
    next_after: int


# ---- datasets -------------------------------------------------------------------------

class DatasetCreate(RequestBody):
    name: str = Field(min_length=1, max_length=200)
    description: str = ""
    dataset_type: Literal["golden", "evaluation"] = "evaluation"
    default_assert: list[dict[str, Any]] = Field(
        default_factory=list, description="assertions applied to every case of a run")
    default_metrics: list[str] = Field(
        default_factory=list, description="scorer metrics of a run that names none")


class DatasetPatch(PatchBody):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = None
    dataset_type: Literal["golden", "evaluation"] | None = None
    default_assert: list[dict[str, Any]] | None = None
    default_metrics: list[str] | None = None


class VerifyBody(RequestBody):
    note: str = Field(default="", description="what the reviewer checked")


class DatasetOut(BaseModel):
    id: str
    name: str
    description: str
    dataset_type: str
    synthetic: bool
    is_verified: bool
    verified_at: datetime | None
    verified_by: str | None
    case_count: int
    default_assert: list[dict[str, Any]]
    default_metrics: list[str] = Field(default_factory=list)
    created_at: datetime
    updated_at: datetime


class CaseIn(RequestBody):
    model_config = {"populate_by_name": True}
    input: dict[str, Any] = Field(default_factory=dict, description="variable bindings")
    expected_output: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    assert_: list[dict[str, Any]] = Field(default_factory=list, alias="assert")
    threshold: float | None = Field(default=None, ge=0, le=1)


class CasesIn(RequestBody):
    cases: list[CaseIn] = Field(min_length=1)


class CasePatch(PatchBody):
    model_config = {"populate_by_name": True}
    nullable: ClassVar[frozenset[str]] = frozenset({"expected_output", "threshold"})
    input: dict[str, Any] | None = None
    expected_output: str | None = None
    metadata: dict[str, Any] | None = None
    assert_: list[dict[str, Any]] | None = Field(default=None, alias="assert")
    threshold: float | None = Field(default=None, ge=0, le=1)


class CaseOut(BaseModel):
    model_config = {"populate_by_name": True}
    id: str
    dataset_id: str
    input: dict[str, Any]
    expected_output: str | None
    metadata: dict[str, Any]
    assert_: list[dict[str, Any]] = Field(alias="assert", serialization_alias="assert")
    threshold: float | None
    created_at: datetime
    updated_at: datetime


class ReviewCaseOut(BaseModel):
    model_config = {"populate_by_name": True}
    id: str
    dataset_id: str
    input: dict[str, Any]
    expected_output: str | None
    metadata: dict[str, Any]
    assert_: list[dict[str, Any]] = Field(alias="assert", serialization_alias="assert")
    threshold: float | None
    review_status: str = Field(description="pending, accepted or rejected")
    reviewed_by: str | None
    reviewed_at: datetime | None
    review_note: str
    created_at: datetime
    updated_at: datetime


class ImportForm(RequestBody):
    """``POST /datasets/{id}/import``: one file (multipart); other form fields are refused."""

    file: UploadFile = Field(description="CSV, JSON or JSONL")


class ImportOut(BaseModel):
    dataset_id: str
    imported: int
    case_count: int
    format: str


# ---- runs -----------------------------------------------------------------------------

class TargetSpec(RequestBody):
    """A prompt version or an application; several targets (or ``models``) make a matrix."""

    prompt_id: str | None = None
    version: int | None = Field(default=None, ge=1, le=INT32_MAX,
                                description="default: the active version")
    application_id: str | None = None
    model: str | None = Field(default=None, description="default: the application's model, "
                                                        "else the run's models, else the "
                                                        "version's config model")
    params: dict[str, Any] = Field(
        default_factory=dict, description="LLM options (temperature, max_tokens, top_p, stop, "
                                          "seed, response_format, tools, ...) over the "
                                          "application's and the version's config; endpoints "
                                          "and credentials come from server configuration")
    fallback_models: list[str] | None = None
    label: str | None = None


class RunCreate(RequestBody):
    model_config = {"populate_by_name": True}
    dataset_id: str
    targets: list[TargetSpec] = Field(min_length=1)
    models: list[str] = Field(default_factory=list,
                              description="each target without a model runs on each of these")
    assert_: list[dict[str, Any]] = Field(default_factory=list, alias="assert")
    concurrency: int = Field(default=4, ge=1, le=256)
    repeat: int = Field(default=1, ge=1, le=100)
    case_threshold: float = Field(default=1.0, ge=0, le=1,
                                  description="a case passes when its pass rate across "
                                              "repeats reaches this")
    min_pass_rate: float | None = Field(default=None, ge=0, le=1,
                                        description="the run passes when its case pass rate "
                                                    "reaches this (default: every case)")
    cache: bool | None = Field(default=None, description="response cache (default: on for "
                                                        "temperature 0)")
    judge_model: str | None = None
    description: str = ""
    metrics: list[str] | None = Field(
        default=None, description="scorer metrics (faithfulness, bleu, ...) computed after the "
                                  "run; default: the dataset's default_metrics")
    judge_params: dict[str, Any] = Field(
        default_factory=dict, description="LLM options of the judge model (temperature, ...); "
                                          "endpoints and credentials come from server "
                                          "configuration (HARNESS_LLM_DEPLOYMENTS)")
    embedding_model: str | None = Field(
        default=None, description="embeddings of the metrics that use them (LiteLLM id); "
                                  "default: the offline local model")


class ScoringOut(BaseModel):
    """Where the scorer is: ``scored`` of ``total`` scores are in (total = results ×
    metrics), with each metric's distribution over the whole run so far."""

    metrics: list[str]
    scored: int
    total: int
    progress: float
    by_metric: dict[str, MetricStats] | None = None  # GET /runs/{id} only


class RunOut(BaseModel):
    id: str
    dataset_id: str
    dataset_name: str
    status: str
    description: str
    source: str
    targets: list[dict[str, Any]]
    config: dict[str, Any]
    snapshot_uri: str
    snapshot_sha256: str
    case_count: int
    expected_results: int
    recorded: int
    passed: int
    failed: int
    errors: int
    progress: float
    phase: str = Field(description="status, except \"scoring\" while a completed run's "
                                   "scores are still coming in")
    scoring: ScoringOut | None = None
    summary: dict[str, Any] | None
    requested_by: str | None
    requested_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    reason: str | None


class RunImport(RequestBody):
    """A run executed elsewhere (``harness eval``, promptfoo) recorded with its results."""

    dataset_id: str
    targets: list[dict[str, Any]] = Field(min_length=1, description="Target dumps (target_id, "
                                                                    "label, prompt_id, ...)")
    results: list[dict[str, Any]] = Field(description="CaseResult dumps; case_id = a case of "
                                                      "the dataset")
    repeat: int = Field(default=1, ge=1, le=INT32_MAX)
    description: str = ""
    source: str = "import"


# ---- generations ----------------------------------------------------------------------

class GenerationOut(BaseModel):
    id: str
    dataset_id: str
    status: str = Field(description="queued, running, completed, failed or cancelled")
    engine: str
    model: str | None
    language: str
    question_kinds: dict[str, float]
    requested: int = Field(description="questions asked for (num_questions)")
    generated: int = Field(description="cases added to the dataset so far")
    failed: int = Field(description="planned questions that could not be made")
    progress: float
    documents: list[dict[str, Any]] = Field(
        description="name, kind, bytes, sha256, passages; error when it could not be used")
    errors: list[dict[str, Any]] = Field(
        description="per question: item, kind, documents, message (at most 500)")
    batches: list[int] = Field(description="batches of the plan recorded so far")
    usage: dict[str, Any]
    worker: str | None
    reason: str | None = Field(description="why the generation failed or was cancelled")
    cancelled_by: str | None = Field(default=None, description="who cancelled it")
    requested_by: str | None
    requested_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


# ---- human judgement ------------------------------------------------------------------

class ScoreOut(BaseModel):
    """A score of a trace or a result (a person's latest of its name)."""

    name: str
    data_type: Literal["numeric", "boolean", "categorical"]
    value: float = Field(description="the number it counts as: a boolean's is 1 or 0, a "
                                     "category's the number its config gives it")
    label: str | None = Field(description="a boolean's true/false, a category's label")
    comment: str
    source: str = Field(description="human (or evaluator)")
    actor: str | None
    config_id: str | None
    scored_at: datetime


# ---- traces -----------------------------------------------------------------------------

class TraceFilterIn(RequestBody):
    """The filters of ``GET /traces``; set ones are ANDed."""

    since: Timestamp | None = Field(None, description="recorded at or after")
    until: Timestamp | None = Field(None, description="recorded before")
    source: Source | None = None
    model: str | None = Field(None, description="model asked for or that answered")
    application: str | None = None
    prompt_id: str | None = None
    prompt_version: int | None = Field(None, ge=1, le=INT32_MAX)
    key: str | None = Field(None, description="gateway key id or name")
    status: Literal["ok", "error"] | None = None
    min_latency_ms: float | None = Field(None, ge=0, allow_inf_nan=False)
    min_cost_usd: float | None = Field(None, ge=0, allow_inf_nan=False)
    q: str | None = Field(None, description="text in the masked request or response")
    score_below: float | None = Field(None, allow_inf_nan=False,
                                      description="has a score below this value")
    score_name: str | None = Field(None, description="has a score of this name")

    @model_validator(mode="after")
    def _window(self) -> TraceFilterIn:
        if self.since is not None and self.until is not None \
                and _aware(self.until) <= _aware(self.since):
            raise ValueError("until: must be later than since")
        return self

    def to_filter(self):  # -> read.queries.traces.TraceFilter
        from .read.queries.traces import TraceFilter

        return TraceFilter(**self.model_dump())


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


# ---- webhooks -------------------------------------------------------------------------

class WebhookCreate(RequestBody):
    url: str = Field(min_length=1, max_length=2048,
                     description="http(s) URL the events are posted to; it must resolve to "
                                 "public addresses unless HARNESS_WEBHOOK_ALLOWED_NETWORKS "
                                 "allows its network")
    event_types: list[str] = Field(min_length=1, max_length=200,
                                   description="event types to deliver (docs/events), or "
                                               "[\"*\"] for every type")
    prompt_id: str | None = Field(default=None, description="only events of this prompt")
    application_id: str | None = Field(
        default=None, description="only events of this application and of the prompt it "
                                  "runs")
    secret: str | None = Field(
        default=None, min_length=16, max_length=256,
        description="HMAC-SHA256 key of the signatures; default: one is made and returned "
                    "once, in this answer")
    description: str = Field(default="", max_length=2000)


class WebhookDisable(RequestBody):
    reason: str = Field(default="", max_length=2000)


class WebhookOut(BaseModel):
    """A subscription as answers show it: never its secret."""

    id: str
    url: str
    event_types: list[str]
    prompt_id: str | None
    application_id: str | None
    description: str
    enabled: bool
    disabled_reason: str | None = Field(description="why deliveries are paused")
    disabled_automatically: bool = Field(description="disabled after failures in a row")
    consecutive_failures: int
    last_success_at: datetime | None
    last_failure_at: datetime | None
    pending: int = Field(description="deliveries not made yet")
    created_at: datetime
    created_by: str | None
    updated_at: datetime


class WebhookCreated(WebhookOut):
    secret: str | None = Field(default=None, description="the secret made for this webhook "
                                                         "(shown once); absent when you gave "
                                                         "one")


class DeliveryAttemptOut(BaseModel):
    attempt: int
    at: datetime
    status_code: int | None = Field(description="none: no answer (refused, timed out, ...)")
    error: str | None
    duration_ms: float


class DeliveryOut(BaseModel):
    id: int
    webhook_id: str
    event_id: str
    event_type: str
    stream_id: str
    global_position: int
    status: Literal["pending", "delivered"]
    attempts: int
    next_attempt_at: datetime | None = Field(description="when a pending delivery is tried "
                                                         "next")
    last_status: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    history: list[DeliveryAttemptOut]
