"""The event envelope, as stored and as carried on the bus."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, field_validator

from harness.storable import storable


class EventMetadata(BaseModel):
    actor: str | None = None
    correlation_id: str | None = None
    causation_id: str | None = None

    model_config = {"extra": "allow"}


class NewEvent(BaseModel):
    """An event about to be appended; the store assigns stream_version and position.

    Its data is made storable (:mod:`harness.storable`: NUL and lone surrogates become
    U+FFFD), so one odd character in a model's answer cannot fail an append, and what the
    projections see is what the store keeps."""

    event_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    type: str
    schema_version: int = 1
    data: dict[str, Any]
    metadata: EventMetadata = Field(default_factory=EventMetadata)

    @field_validator("data")
    @classmethod
    def _storable(cls, data: dict[str, Any]) -> dict[str, Any]:
        return storable(data)


class StoredEvent(BaseModel):
    global_position: int
    event_id: uuid.UUID
    stream_id: str
    stream_version: int
    type: str
    schema_version: int
    data: dict[str, Any]
    metadata: EventMetadata
    recorded_at: datetime

    @classmethod
    def from_record(cls, r: Any) -> StoredEvent:
        """From a database row; the store's own rows are trusted, so no re-validation."""
        return cls.model_construct(
            global_position=r["global_position"], event_id=r["event_id"],
            stream_id=r["stream_id"], stream_version=r["stream_version"], type=r["type"],
            schema_version=r["schema_version"], data=r["data"],
            metadata=EventMetadata.model_construct(**(r["metadata"] or {})),
            recorded_at=r["recorded_at"],
        )
