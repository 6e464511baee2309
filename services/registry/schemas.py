"""Request and response bodies of the registry API (pydantic v2)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, Field

T = TypeVar("T")


class ChatMessage(BaseModel):
    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str


Content = str | list[ChatMessage]


def content_to_plain(content: Content) -> str | list[dict[str, Any]]:
    if isinstance(content, str):
        return content
    return [m.model_dump() for m in content]


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


class PromptCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    description: str = ""
    content: Content
    change_note: str = "initial version"


class PromptPatch(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = None


class PromptVersionCreate(BaseModel):
    content: Content
    change_note: str = ""
    activate: bool = False


class ActivateBody(BaseModel):
    reason: str = ""


class RenderBody(BaseModel):
    variables: dict[str, Any] = {}
    version: int | None = Field(default=None, description="default: the active version")


class PromptVersionOut(BaseModel):
    id: str
    prompt_id: str
    version: int
    content: str | list[dict[str, Any]]
    variables: list[str]
    is_active: bool
    created_at: datetime | None
    created_by: str | None
    change_note: str


class PromptOut(BaseModel):
    id: str
    name: str
    description: str
    created_at: datetime | None
    updated_at: datetime | None
    active_version: int | None
    latest_version: int
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


class RenderOut(BaseModel):
    prompt_id: str
    version: int
    rendered: str | list[dict[str, Any]]
    messages: list[dict[str, Any]]


class ApplicationCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    description: str = ""
    model_id: str = Field(min_length=1)
    prompt_id: str
    temperature: float = Field(default=0.7, ge=0, le=2)
    max_tokens: int = Field(default=1024, ge=1)
    top_p: float | None = Field(default=None, gt=0, le=1)
    fallback_models: list[str] = []


class ApplicationPatch(BaseModel):
    model_config = {"extra": "forbid"}
    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = None
    model_id: str | None = Field(default=None, min_length=1)
    prompt_id: str | None = None
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=1)
    top_p: float | None = Field(default=None, gt=0, le=1)
    fallback_models: list[str] | None = None


class ApplicationOut(BaseModel):
    id: str
    name: str
    description: str
    model_id: str
    prompt_id: str
    temperature: float
    max_tokens: int
    top_p: float | None
    fallback_models: list[str]
    created_at: datetime
    updated_at: datetime


class ResolvedOut(BaseModel):
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
